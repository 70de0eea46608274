"""Alembic environment: migrate under an advisory lock so only one process upgrades at a time."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from geo_service.db.models import Base

#: Key of the advisory lock held while migrating (any constant shared by all workers).
MIGRATION_LOCK = 727_001

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run 'geo-service db upgrade'")
run_migrations_online()
