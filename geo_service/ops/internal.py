"""The internal listener: ``/metrics`` on an address and port of its own, never on the public app.

Internal endpoints are kept internal by where they listen, not by path rules in a proxy: the
public app has no ``/metrics`` route at all, so no prefix, header or encoding trick can reach one
there. The listener binds ``metrics_host:metrics_port`` (127.0.0.1:9101 by default; in a
container 0.0.0.0 on a port that only the monitoring network reaches) and is run by the process
that supervises the workers (``geo-service serve``), so a scrape still answers while a worker is
being replaced. Metrics come from the workers' files (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from geo_service.ops.metrics import scrape_registry

log = logging.getLogger(__name__)

PATH = "/metrics"


class _Handler(_SilentHandler):
    #: Seconds a connection may take to send its request (StreamRequestHandler sets it on the
    #: socket), so a stalled client does not hold a thread.
    timeout = 10


def metrics_app() -> Callable[..., Iterable[bytes]]:
    """A WSGI app that answers ``GET /metrics`` and nothing else."""
    metrics = make_wsgi_app(scrape_registry())

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not found: this listener serves /metrics only.\n"]
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


class InternalListener:
    """``/metrics`` on ``host:port`` in a background thread of the current process."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        family = ThreadingWSGIServer.address_family
        if ":" in self.host:  # an IPv6 address
            import socket

            family = socket.AF_INET6

        class _Server(ThreadingWSGIServer):
            address_family = family

        self._server = make_server(self.host, self.port, metrics_app(), _Server,
                                   handler_class=_Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="internal-listener", daemon=True)
        self._thread.start()
        log.info("internal listener (metrics) on %s:%s%s", self.host, self.port, PATH)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
