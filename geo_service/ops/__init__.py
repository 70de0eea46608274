"""Running the service: logs, request ids, metrics, proxies, replicas, backups, configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from geo_service.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add logging, request ids, metrics and proxy handling to ``app`` (call last in create_app).

    Middleware added last runs first: the proxy headers are resolved before the request is
    logged and measured, so log lines and links see the client's scheme, host and prefix.
    The app counts its requests; it does not serve ``/metrics`` itself: the internal listener
    does, on its own address and port (``geo_service.ops.internal``).
    """
    from geo_service.ops.logging import configure_logging
    from geo_service.ops.proxy import ForwardedMiddleware
    from geo_service.ops.readiness import head
    from geo_service.ops.requests import RequestMiddleware

    configure_logging(settings)
    head()  # read the migration scripts once, not in the first readiness probe
    app.add_middleware(RequestMiddleware, registry=app.state.registry)
    app.add_middleware(ForwardedMiddleware, trusted=settings.trusted_proxies,
                       root_path=settings.root_path)
