"""Readiness: the primary database answers and its schema is at the newest migration."""

from __future__ import annotations

import asyncio
import functools
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

#: A readiness probe must answer quickly even when the database hangs.
TIMEOUT_S = 3.0


@functools.cache
def head() -> str:
    from geo_service.db.engine import head_revision

    return head_revision()


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar()
        if exists is None:
            return None
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()


async def readiness(engine: AsyncEngine) -> tuple[bool, dict[str, object]]:
    """``(ready, details)``; ``details["reason"]`` says why not, in one sentence."""
    wanted = head()
    try:
        revision = await asyncio.wait_for(_revision(engine), TIMEOUT_S)
    except (SQLAlchemyError, OSError, asyncio.TimeoutError) as exc:
        log.warning("readiness: database not reachable: %s", type(exc).__name__)
        return False, {"status": "unavailable", "reason": "database not reachable"}
    if revision != wanted:
        return False, {
            "status": "unavailable",
            "reason": f"database schema at revision {revision or 'none'}, expected {wanted}: "
                      "run 'geo-service db upgrade'",
            "revision": revision, "head": wanted,
        }
    return True, {"status": "ready", "revision": revision}
