"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from geo_service.api.deps import ReadDep
from geo_service.ops.readiness import readiness
from geo_service.queries.health import database_status

router = APIRouter(tags=["Betrieb"])


@router.get("/healthz", summary="Is the service alive and its database reachable?")
async def check_health(conn: ReadDep) -> dict[str, object]:
    status = await database_status(conn)
    return {"status": "ok", "database": status}


@router.get("/readyz", summary="Can the service take traffic (database reachable, schema current)?")
async def check_ready(request: Request) -> JSONResponse:
    ready, details = await readiness(request.app.state.engine)
    return JSONResponse(details, status_code=200 if ready else 503,
                        headers={"Cache-Control": "no-store"})
