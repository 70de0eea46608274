"""Security headers: one policy for every HTML page the service renders, set in one place.

Every response gets ``X-Content-Type-Options: nosniff``. Every ``text/html`` response — map
pages, the editor, legal pages, the API's HTML views (``/``, ``/collections``, ``?f=html``),
the API documentation, anything added later — gets the same Content-Security-Policy, framing
rule and Referrer-Policy from :class:`SecurityHeadersMiddleware`, whatever route rendered it.

Scripts run only from the service's own files or with the response's nonce; a page that
inlines a script takes the nonce from :func:`page_policy`. Pages are not framed anywhere
(``frame-ancestors 'none'``) unless the page itself allows it (the embeddable map).
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.settings import Settings


@dataclass
class PagePolicy:
    """What one response's policy varies by: its script nonce and who may frame it."""

    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    frame_ancestors: str = "'none'"


_policy: ContextVar[PagePolicy | None] = ContextVar("page_policy", default=None)


def page_policy() -> PagePolicy:
    """The current request's policy (a page reads its nonce, the embed page widens framing)."""
    policy = _policy.get()
    if policy is None:  # outside the middleware (a page rendered in a script or test)
        policy = PagePolicy()
        _policy.set(policy)
    return policy


def tile_source(url: str) -> str:
    """The CSP source of the basemap tiles, e.g. ``https://*.tile.example.org`` for ``{s}``."""
    parts = urlsplit(url.replace("{s}", "s-placeholder"))
    host = (parts.hostname or "").replace("s-placeholder", "*")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if host else ""


def content_security_policy(settings: Settings, policy: PagePolicy) -> str:
    """Scripts only from the service or with this response's nonce; never inline or eval."""
    images = " ".join(filter(None, ["'self'", "data:", tile_source(settings.basemap_url)]))
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{policy.nonce}'",
        # Leaflet and Swagger UI position and size elements with inline styles.
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {policy.frame_ancestors}",
    ])


#: Headers this middleware owns: a route's own value for them is replaced, never merged.
_OWNED = {b"content-security-policy", b"x-content-type-options", b"referrer-policy",
          b"x-frame-options"}


class SecurityHeadersMiddleware:
    """Pure ASGI (no extra task), so the policy's context variable reaches the endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = PagePolicy()
        token = _policy.set(policy)
        settings: Settings = scope["app"].state.settings

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OWNED]
                html = any(k.lower() == b"content-type" and v.lower().startswith(b"text/html")
                           for k, v in headers)
                headers.append((b"x-content-type-options", b"nosniff"))
                if html:
                    csp = content_security_policy(settings, policy)
                    headers.append((b"content-security-policy", csp.encode("latin-1")))
                    headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                    if policy.frame_ancestors == "'none'":  # for browsers without CSP 2
                        headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _policy.reset(token)
