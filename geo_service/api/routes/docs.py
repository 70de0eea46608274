"""Interactive API documentation (Swagger UI served from our own static files)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from geo_service.api.html import render

router = APIRouter()


@router.get("/api.html", include_in_schema=False)
async def show_api_docs() -> HTMLResponse:
    # Relative URLs: the page works under a path prefix behind a proxy.
    return render("swagger.html", title="Quartierskarte – API", openapi_url="api")
