"""Rendering the map pages: templates, Content-Security-Policy with a per-request nonce."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

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


def tile_source(url: str) -> str:
    """The CSP source of the basemap tiles, e.g. ``https://*.tile.example.org`` for ``{s}``."""
    parts = urlsplit(url.replace("{s}", "s-placeholder"))
    host = (parts.hostname or "").replace("s-placeholder", "*")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if host else ""


def content_security_policy(settings: Settings, nonce: str, *, frame_ancestors: str) -> str:
    """Scripts only from the service or with this response's nonce; never inline or eval."""
    images = " ".join(filter(None, ["'self'", "data:", tile_source(settings.basemap_url)]))
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # Leaflet positions tiles and markers with inline styles.
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


def _nonce_scripts(script: str, nonce: str) -> str:
    return re.sub(r"<script>", f'<script nonce="{nonce}">', script)


def render_page(template: str, *, page: str, settings: Settings, lang: str,
                map_parts: MapParts | None = None, config: dict[str, Any] | None = None,
                frame_ancestors: str = "'none'", **context: Any) -> HTMLResponse:
    """A map or legal page with its CSP header; ``config`` reaches the page's script as JSON."""
    nonce = secrets.token_urlsafe(18)
    messages = i18n.messages(lang)
    styles, scripts = assets.PAGES[page]
    body = _env.get_template(template).render(
        lang=lang, dir=i18n.direction(lang), t=messages, nonce=nonce, styles=styles,
        scripts=scripts, map=map_parts, config=config or {}, page=page,
        languages=settings.languages, legal=LEGAL, **context)
    headers = {
        "Content-Security-Policy": content_security_policy(settings, nonce,
                                                           frame_ancestors=frame_ancestors),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    return HTMLResponse(body, headers=headers)
