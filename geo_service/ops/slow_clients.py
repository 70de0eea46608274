"""Slow clients: a connection must deliver its request headers within ``header_timeout_s``.

uvicorn (0.54) arms its ``timeout_keep_alive`` only after an answer, and cancels it on every
byte received. Checked with raw sockets against both of its HTTP implementations (h11 and
httptools): a connection that sends nothing, or sends a request line and then one header line
every half second, stays open for ever (slowloris), each one holding a file descriptor and a
slot of ``limit_concurrency``.

These protocol classes add a deadline: from the moment a connection opens, or the first byte of
a further request on a kept-alive connection, until the end of the request's header block. A
trickle of bytes does not extend it. When it passes, the client gets ``408 Request Timeout``
and the connection is closed. A slow *body* is the request timeout's business (``LimitsMiddleware``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0
_BODY = (b'{"code":"RequestTimeout","description":"The request headers did not arrive in time.",'
         b'"detail":"The request headers did not arrive in time.","status":408}')
_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


class _HeaderDeadline:
    """The deadline itself, mixed in before either protocol class (cooperative ``super()``)."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)  # type: ignore[call-arg]
        self._header_timeout = float(getattr(config, "header_timeout_s", DEFAULT_TIMEOUT))
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        if self._deadline is None and self._header_timeout > 0:
            self._deadline = self.loop.call_later(self._header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.warning("closed a connection whose request headers did not arrive within %g s",
                    self._header_timeout)
        try:
            self.transport.write(_408)
        finally:
            self.transport.close()


class HeaderTimeoutH11Protocol(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with the header deadline."""

    def _follow(self) -> None:
        # IDLE: h11 has not yet seen a complete request line and header block.
        if self.conn.their_state is h11.IDLE:
            self._arm()
        else:
            self._disarm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._follow()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    HeaderTimeoutHttpToolsProtocol = None
else:

    class HeaderTimeoutHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with the header deadline."""

        def on_message_begin(self) -> None:  # the first byte of a request
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()


def protocol_class(name: str = "auto") -> type[asyncio.Protocol]:
    """The protocol for uvicorn's ``http`` option: ``auto`` is httptools where installed."""
    if name == "h11" or (name == "auto" and HeaderTimeoutHttpToolsProtocol is None):
        return HeaderTimeoutH11Protocol
    if HeaderTimeoutHttpToolsProtocol is None:
        raise ValueError("httptools is not installed; use --http h11")
    return HeaderTimeoutHttpToolsProtocol  # type: ignore[no-any-return]
