"""Interactive API documentation (Swagger UI served from our own static files)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/api.html", include_in_schema=False)
async def show_api_docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="api",
        title="Quartierskarte – API",
        swagger_js_url="static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="static/vendor/swagger-ui/favicon.png",
    )
