"""The FastAPI application factory: settings in, app out; nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from geo_service import __version__
from geo_service.api.deps import check_query_text
from geo_service.api.errors import register_error_handlers
from geo_service.api.limits import LimitsMiddleware
from geo_service.api.openapi import build_openapi
from geo_service.api.routes import docs, edit, features, health, layers, maps, nearby, reports
from geo_service.api.routes import bulk, editor, jobs, tiles
from geo_service.api.security import SecurityHeadersMiddleware
from geo_service.db.engine import async_engine, resolve_url
from geo_service.jobs.manager import JobManager
from geo_service.layers import Registry
from geo_service.ops import install as install_ops
from geo_service.maps.assets import use_local_assets
from geo_service.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        app.openapi_schema = build_openapi(app.state.registry, app.state.settings)
    return app.openapi_schema


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        The deployment's settings; ``Settings()`` (environment and ``.env``) when omitted.
    database_url
        Overrides the URL derived from ``settings`` (used by ``serve`` after starting the
        embedded cluster, and by tests).
    """
    settings = settings or Settings()
    registry = Registry.from_dir(settings.layers_dir)
    use_local_assets()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_url(settings)
        app.state.engine = async_engine(url, settings)
        read_url = settings.database_read_url
        app.state.read_engine = async_engine(read_url, settings) if read_url else app.state.engine
        # Imports run as jobs in processes of their own (issue 10B).
        app.state.jobs = JobManager(app.state.engine, url, settings)
        await app.state.jobs.start()
        try:
            yield
        finally:
            await app.state.jobs.close()
            await app.state.engine.dispose()
            if app.state.read_engine is not app.state.engine:
                await app.state.read_engine.dispose()

    app = FastAPI(
        title="Quartierskarte",
        version=__version__,
        description="Treffpunkte, Angebote und Projekte der Quartiersarbeit in Niedersachsen.",
        lifespan=lifespan,
        openapi_url="/api",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(check_query_text)],
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.registry = registry
    # Level 1, not Starlette's 9: a 1,000-feature page (~500 KB of JSON) compresses in about a
    # sixth of the time, to ~25 KB instead of ~21 KB (bench/README.md).
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=1)
    app.add_middleware(LimitsMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["ETag", "Last-Modified", "Content-Crs", "Link"],
        )
    # Outside the limits, so their 413/429/503 answers carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware)
    register_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (health.router, layers.router, nearby.router, docs.router, maps.router,
                   reports.router, edit.router, bulk.router, jobs.router, editor.router,
                   tiles.router, features.router):
        app.include_router(router)
    install_ops(app, settings)  # logs, request ids, metrics, proxy headers, prefix
    return app
