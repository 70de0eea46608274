"""Abuse limits: request body size, and rate limits counted in PostgreSQL (shared by replicas)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import random
import time
from dataclasses import dataclass

import orjson
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.ops.clients import network_of

log = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/static/")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FLUSH_EVERY = 20
FLUSH_SECONDS = 1.0


def bucket_of(host: str | None, kind: str) -> str:
    """The counter of the client's network (a hash: no address is stored)."""
    digest = hashlib.sha256((network_of(host) or "unknown").encode()).hexdigest()[:16]
    return f"{kind}:{digest}"


async def _send_error(send: Send, status: int, code: str, detail: str,
                      headers: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"code": code, "description": detail, "detail": detail, "status": status})
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """Rejects oversized bodies (413), clients over their per-minute budget (429) and requests
    that run too long (503)."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self._counters: dict[str, _Counter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings = state.settings
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        limit_mb = settings.max_upload_mb if path.endswith("/import") else settings.max_body_mb
        if length is not None:
            try:
                too_big = int(length) > limit_mb * 1_000_000
            except ValueError:
                too_big = True
            if too_big:
                await _send_error(send, 413, "PayloadTooLarge",
                                  f"The request body is larger than {limit_mb} MB.")
                return
        if not path.startswith(EXEMPT_PREFIXES):
            write = method in WRITE_METHODS
            budget = settings.rate_limit_writes if write else settings.rate_limit_reads
            if budget > 0:
                client = scope.get("client")
                retry = await self._over_budget(state, bucket_of(client[0] if client else None,
                                                                 "w" if write else "r"), budget)
                if retry is not None:
                    await _send_error(
                        send, 429, "TooManyRequests",
                        "Too many requests from your network; please wait a moment and try again.",
                        {"Retry-After": str(retry)})
                    return
        if path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
        else:
            await self._with_timeout(scope, receive, send, settings.request_timeout_s)

    async def _with_timeout(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        """A request that takes too long is answered 503 (if nothing was sent yet) and its work
        cancelled, so one slow client or query cannot hold a worker for ever."""
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive, tracked), timeout=seconds)
        except asyncio.TimeoutError:
            log.warning("request timed out after %s s: %s", seconds, scope.get("path"))
            if not started:
                await _send_error(send, 503, "ServiceUnavailable",
                                  f"The request took longer than {seconds:g} s; please narrow it "
                                  "(a smaller bbox or limit) or retry.", {"Retry-After": "5"})

    async def _over_budget(self, state: object, bucket: str, budget: int) -> int | None:
        """Seconds to wait when the bucket's count for this minute exceeds the budget.

        The count lives in PostgreSQL, shared by every replica. To keep a database write off
        most requests, each process adds its hits in batches: at least every
        ``FLUSH_SECONDS``, every ``FLUSH_EVERY`` hits, and on every hit once the budget is near,
        so replicas agree within a second and the last hits before the limit are exact.
        """
        now = dt.datetime.now(dt.timezone.utc)
        window = now.replace(second=0, microsecond=0)
        counter = self._counters.get(bucket)
        if counter is None or counter.window != window:
            if counter is not None or len(self._counters) > 10_000:  # a new minute: forget the old
                self._counters = {b: c for b, c in self._counters.items() if c.window == window}
            counter = self._counters[bucket] = _Counter(window)
        counter.pending += 1
        due = (counter.pending >= FLUSH_EVERY
               or time.monotonic() - counter.flushed >= FLUSH_SECONDS
               or counter.stored + FLUSH_EVERY >= budget)
        if due:
            hits, counter.pending = counter.pending, 0
            counter.flushed = time.monotonic()
            stored = await self._add(state, bucket, window, hits)
            if stored is None:  # the database is away: let the request meet it there
                return None
            counter.stored = stored
        if counter.stored + counter.pending > budget:
            return max(1, 60 - now.second)
        return None

    @staticmethod
    async def _add(state: object, bucket: str, window: dt.datetime, hits: int) -> int | None:
        try:
            async with state.engine.begin() as conn:  # type: ignore[attr-defined]
                stored = (await conn.execute(
                    text("INSERT INTO rate_counters (bucket, window_start, hits) VALUES (:b, :w, :n) "
                         "ON CONFLICT (bucket, window_start) DO UPDATE SET "
                         "hits = rate_counters.hits + excluded.hits RETURNING hits"),
                    {"b": bucket, "w": window, "n": hits},
                )).scalar_one()
                if random.random() < 0.01:  # old windows are useless: sweep now and then
                    await conn.execute(text("DELETE FROM rate_counters WHERE window_start < :old"),
                                       {"old": window - dt.timedelta(minutes=10)})
        except Exception as exc:  # the limiter must not take the service down with it
            log.warning("rate limiter unavailable: %s", exc)
            return None
        return int(stored)


@dataclass
class _Counter:
    """One bucket's count this minute, as this process knows it."""

    window: dt.datetime
    stored: int = 0  # what the database said after our last flush (all replicas' hits)
    pending: int = 0  # our hits not yet added there
    flushed: float = 0.0
