"""ASGI entry points for uvicorn workers and containers.

``uvicorn geo_service.api.asgi:app`` or ``uvicorn --factory geo_service.api.asgi:create_from_env``;
settings come from the environment (``GEO_SERVICE_*``) and ``.env``. ``geo-service serve`` runs
this factory in supervised workers and adds what a bare uvicorn lacks: restarts of dead workers,
the header deadline for slow clients, and the internal listener for ``/metrics``.
"""

from fastapi import FastAPI

from geo_service.api.app import create_app


def create_from_env() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:
    # Built on first access, so importing this module has no side effects.
    if name == "app":
        return create_app()
    raise AttributeError(name)
