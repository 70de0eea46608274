"""Rendering the map pages: templates; their headers come from :mod:`geo_service.api.security`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo_service.api.security import page_policy
from geo_service.maps import assets, i18n
from geo_service.maps.builder import MapParts
from geo_service.settings import Settings

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

#: Pages and their catalogue title keys (footer links, language switcher).
LEGAL = {"impressum": "footer.impressum", "datenschutz": "footer.privacy",
         "barrierefreiheit": "footer.accessibility"}


def render_page(template: str, *, page: str, settings: Settings, lang: str,
                map_parts: MapParts | None = None, config: dict[str, Any] | None = None,
                frame_ancestors: str = "'none'", **context: Any) -> HTMLResponse:
    """A map or legal page; ``config`` reaches the page's script as JSON.

    The map's inline script carries the response's nonce; ``frame_ancestors`` is who may frame
    the page (the CSP itself is set for every HTML response by the security middleware).
    """
    policy = page_policy()
    policy.frame_ancestors = frame_ancestors
    nonce = policy.nonce
    messages = i18n.messages(lang)
    styles, scripts = assets.PAGES[page]
    body = _env.get_template(template).render(
        lang=lang, dir=i18n.direction(lang), t=messages, nonce=nonce, styles=styles,
        scripts=scripts, map=map_parts, config=config or {}, page=page,
        languages=settings.languages, legal=LEGAL, **context)
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})
