"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from geo_service.api.deps import ReadDep
from geo_service.queries.health import database_status

router = APIRouter(tags=["Betrieb"])


@router.get("/healthz", summary="Is the service alive and its database reachable?")
async def check_health(conn: ReadDep) -> dict[str, object]:
    status = await database_status(conn)
    return {"status": "ok", "database": status}
