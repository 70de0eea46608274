"""Prometheus metrics for the operators' monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from geo_service.ops import metrics

router = APIRouter(tags=["Betrieb"])


@router.get("/metrics", include_in_schema=False)
async def show_metrics(request: Request) -> Response:
    state = request.app.state
    metrics.observe_pool("primary", state.engine)
    if state.read_engine is not state.engine:
        metrics.observe_pool("replica", state.read_engine)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
