"""Responses: GeoJSON media type, format negotiation, and conditional requests (ETag/304)."""

from __future__ import annotations

import datetime as dt
import hashlib
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response

from geo_service.errors import InvalidParameter

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"


class GeoJSONResponse(Response):
    media_type = GEOJSON


def wants(request: Request, *, default: str = "json") -> str:
    """``json`` or ``html``, from ``f=`` first, then the Accept header."""
    fmt = request.query_params.get("f")
    if fmt is not None:
        fmt = fmt.lower()
        if fmt in ("json", "geojson", "application/json", "application/geo+json"):
            return "json"
        if fmt in ("html", "text/html"):
            return "html"
        raise InvalidParameter(f"f '{fmt[:30]}' is not offered; use f=json or f=html.")
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "json" not in accept.split("text/html")[0]:
        return "html"
    return default


def base_url(request: Request, public_url: str | None) -> str:
    """The service's external base URL (setting, else from the request and proxy headers)."""
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def make_etag(*parts: object, weak: bool = True) -> str:
    """An entity tag from the parts that determine a response.

    ``weak=False`` gives a strong tag: only for bodies that are the same bytes whenever the parts
    are the same (include whether the body is gzip-compressed among the parts).
    """
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:20]
    return f'W/"{digest}"' if weak else f'"{digest}"'


def accepts_gzip(request: Request) -> bool:
    """Whether the gzip middleware may compress this response (part of a strong ETag)."""
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def not_modified(request: Request, etag: str, last_modified: dt.datetime | None) -> bool:
    """Whether the client's cached copy is still current (If-None-Match, else If-Modified-Since)."""
    tags = request.headers.get("if-none-match")
    if tags is not None:
        wanted = {t.strip() for t in tags.split(",")}
        plain = etag.removeprefix("W/")
        return "*" in wanted or etag in wanted or plain in wanted or f"W/{plain}" in wanted
    since = request.headers.get("if-modified-since")
    if since and last_modified is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def cache_headers(etag: str, last_modified: dt.datetime | None, max_age: int) -> dict[str, str]:
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}, must-revalidate",
        "Vary": "Accept, Accept-Encoding, Accept-Language",
    }
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified.astimezone(dt.timezone.utc), usegmt=True)
    return headers


def not_modified_response(headers: dict[str, str]) -> Response:
    return Response(status_code=304, headers=headers)
