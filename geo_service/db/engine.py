"""Engines for the service (asyncpg) and for the CLI and imports (psycopg), from one URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from geo_service.db.local import LocalCluster
from geo_service.settings import Settings


def local_cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(settings.data_dir, settings.embedded_port)


def resolve_url(settings: Settings, *, start: bool = False) -> str:
    """The database URL: the configured one, or the embedded cluster's (started if asked)."""
    if settings.database_url:
        return settings.database_url
    cluster = local_cluster(settings)
    if start:
        return cluster.start()
    if not cluster.running():
        raise RuntimeError(
            "The embedded database is not running: start it with 'geo-service db start' "
            "(or set GEO_SERVICE_DATABASE_URL)."
        )
    return cluster.url()


def with_driver(url: str, driver: str) -> str:
    """``postgresql://…`` with the given driver (``psycopg`` or ``asyncpg``)."""
    parsed = make_url(url)
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def sync_engine(url: str, **kwargs: object) -> Engine:
    return create_engine(with_driver(url, "psycopg"), pool_pre_ping=True, **kwargs)  # type: ignore[arg-type]


def async_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        with_driver(url, "asyncpg"),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.statement_timeout_ms),
                "application_name": "geo-service",
            },
            "timeout": 10,
        },
    )


MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", with_driver(url, "psycopg").replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic, under an advisory lock)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("postgresql://x@localhost/x"))
    head = script.get_current_head()
    assert head is not None
    return head
