"""Database status for health checks."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def database_status(conn: AsyncConnection) -> dict[str, object]:
    row = (
        await conn.execute(text("SELECT current_setting('server_version') AS v, postgis_lib_version() AS g"))
    ).one()
    return {"reachable": True, "postgresql": row.v, "postgis": row.g}
