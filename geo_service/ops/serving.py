"""``geo-service serve``: a supervising process, its workers, and the internal listener.

The process that ``geo-service serve`` starts never handles a request itself. It binds the
public socket, starts ``workers`` worker processes (uvicorn's multiprocess supervisor, even for
one worker) and restarts any worker that dies, whatever killed it (a segmentation fault in a
native library, SIGKILL, the OOM killer); meanwhile the socket stays open, so connections wait in
its backlog instead of being refused. The embedded database belongs to this process, not to a
worker: a dying worker never stops it. Ctrl+C (SIGINT) or SIGTERM stops the workers gracefully
and then returns, and the caller stops what it started.

The same process serves ``/metrics`` on the internal listener (``geo_service.ops.internal``),
read from the workers' metric files.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from geo_service.ops.internal import InternalListener
from geo_service.ops.metrics import MULTIPROCESS_ENV, prepare_multiprocess
from geo_service.ops.slow_clients import protocol_class
from geo_service.settings import Settings

log = logging.getLogger(__name__)

APP = "geo_service.api.asgi:create_from_env"


class ServiceConfig(uvicorn.Config):
    """uvicorn's configuration plus the header deadline (read by the protocol classes; the
    object is pickled into each worker)."""

    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s


def service_config(settings: Settings, *, host: str, port: int, http: str = "auto") -> ServiceConfig:
    """The workers' uvicorn configuration: the app factory by name (each worker builds its own
    app from the environment), uvicorn's proxy-header handling and access log off (the app does
    both, see ``geo_service.ops``)."""
    return ServiceConfig(
        APP, factory=True, host=host, port=port, workers=max(1, settings.workers),
        http=protocol_class(http), header_timeout_s=settings.header_timeout_s,
        proxy_headers=False, log_config=None, access_log=False,
        log_level=settings.log_level.lower(),
    )


def run_supervised(settings: Settings, *, database_url: str, host: str, port: int,
                   http: str = "auto") -> bool:
    """Serve until SIGINT/SIGTERM; workers that die are replaced. False when a worker could not
    start at all (the app, its settings or the socket is broken: restarting would not help)."""
    # Workers are fresh interpreters (spawn): what they need comes through the environment.
    os.environ["GEO_SERVICE_DATABASE_URL"] = database_url
    own_folder = None
    if not os.environ.get(MULTIPROCESS_ENV):
        own_folder = tempfile.mkdtemp(prefix="geo-service-metrics-")
    # Each worker counts into files there; the internal listener sums them.
    prepare_multiprocess(os.environ.get(MULTIPROCESS_ENV) or str(own_folder))
    config = service_config(settings, host=host, port=port, http=http)
    sock = config.bind_socket()
    listener = None
    try:
        if settings.metrics_enabled:
            listener = InternalListener(settings.metrics_host, settings.metrics_port)
            try:
                listener.start()
            except OSError as exc:
                # Serving the public matters more than the metrics: say so, and go on.
                log.error("internal listener (metrics) not started on %s:%s: %s; set "
                          "GEO_SERVICE_METRICS_PORT to a free port", settings.metrics_host,
                          settings.metrics_port, exc)
                listener = None
        supervisor = Multiprocess(config, sockets=[sock])
        supervisor.run()
        return not any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    finally:
        if listener is not None:
            listener.stop()
        sock.close()
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)
