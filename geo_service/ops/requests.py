"""Per request: an id (accepted or generated, returned as X-Request-ID), one log line, metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.ops import metrics
from geo_service.ops.logging import anonymise_ip, request_id_var

if TYPE_CHECKING:
    from geo_service.layers import Registry

log = logging.getLogger("geo_service.access")

#: What a client or proxy may send as its own request id; anything else is replaced.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"x-request-id":
            text = value.decode("latin-1").strip()
            if _SANE_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The matched route's path template; ``unmatched`` for 404s (keeps labels bounded)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    if getattr(route, "routes", None) is not None or type(route).__name__ == "Mount":
        return path.rstrip("/") + "/{path}"
    return str(path)


class RequestMiddleware:
    """Pure ASGI (no extra task), so the request id's context variable reaches the endpoint."""

    def __init__(self, app: ASGIApp, *, registry: Registry) -> None:
        self.app = app
        self.layers = set(registry.ids())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()
        metrics.IN_PROGRESS.inc()

        started_response = False
        recorded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Counted before the last byte leaves: a client that reads /metrics right after
                # its answer must already see its request there.
                recorded = True
                metrics.IN_PROGRESS.dec()
                self._record(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Unexpected errors would otherwise be answered outside this middleware, without the
            # request id; answer with the app's own handler for them (it logs the traceback).
            handler = getattr(scope.get("app"), "exception_handlers", {}).get(Exception)
            if started_response or handler is None:
                raise
            from starlette.requests import Request

            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send_with_id)
        finally:
            if not recorded:  # no complete answer (client gone, error after the start)
                metrics.IN_PROGRESS.dec()
                self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, duration: float) -> None:
        route = route_of(scope)
        layer = (scope.get("path_params") or {}).get("layer", "")
        layer = layer if layer in self.layers else ""
        method = scope["method"]
        metrics.REQUESTS.labels(method=method, route=route, layer=layer, status=str(status)).inc()
        metrics.LATENCY.labels(method=method, route=route, layer=layer).observe(duration)
        if method == "POST" and "import" in route and layer:
            metrics.IMPORTS.labels(layer=layer,
                                   result="ok" if status < 400 else "rejected").inc()
        app = scope.get("app")
        state = getattr(app, "state", None)
        for name in ("engine", "read_engine"):
            engine = getattr(state, name, None)
            if engine is not None and (name == "engine" or engine is not state.engine):
                metrics.observe_pool("primary" if name == "engine" else "replica", engine)
        client = scope.get("client")
        # No query string (a near-me search carries the user's position), no full address.
        log.info("request", extra={
            "method": method,
            "path": scope["path"][:300],
            "route": route,
            "layer": layer or None,
            "status": status,
            "duration_ms": round(duration * 1000, 1),
            "client_net": anonymise_ip(client[0] if client else None),
        })
