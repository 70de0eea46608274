"""HTML views of the API's JSON documents (OGC API – Features conformance class HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def safe_href(value: object) -> str:
    """Only http(s), relative, mailto and tel links become links; anything else is dropped."""
    text = str(value or "")
    lowered = text.strip().lower()
    if lowered.startswith(("http://", "https://", "/", "mailto:", "tel:", "?")):
        return text
    return ""


_env.filters["safe_href"] = safe_href


def render(template: str, *, status: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    body = _env.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=headers)
