"""Slow clients (slowloris) are closed: raw sockets against ``geo-service serve``, with both of
uvicorn's HTTP implementations.

Without the header deadline neither h11 nor httptools closes a connection that sends nothing, or
that trickles header lines: uvicorn's keep-alive timeout only starts after an answer and every
byte received cancels it. The test sets ``header_timeout_s`` to 1 s (the shipped default is 15 s).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.utils.served import ServedService

TIMEOUT_S = 1.0
#: Far more than the deadline; only a deadline closes these connections at all.
GIVE_UP_S = 20.0


@pytest.fixture(scope="module", params=["h11", "httptools"])
def served(request: pytest.FixtureRequest, module_db_url: str) -> Iterator[ServedService]:
    settings = make_settings(module_db_url, header_timeout_s=TIMEOUT_S)
    with ServedService(settings, http=request.param) as live:
        yield live


def _connect(live: ServedService) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=GIVE_UP_S)
    sock.settimeout(0.2)
    return sock


def _until_closed(sock: socket.socket, trickle: bytes | None = None) -> tuple[bytes, float]:
    """Read until the server closes; send ``trickle`` every 0.2 s meanwhile."""
    started = time.monotonic()
    received = b""
    while time.monotonic() - started < GIVE_UP_S:
        if trickle:
            try:
                sock.sendall(trickle)
            except OSError:
                break
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - started


def test_a_silent_connection_is_closed_with_408(served: ServedService) -> None:
    with _connect(served) as sock:
        received, waited = _until_closed(sock)
    assert waited < GIVE_UP_S, "the connection was never closed"
    assert received.startswith(b"HTTP/1.1 408"), received[:200]


def test_trickled_headers_do_not_keep_the_connection(served: ServedService) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: quartierskarte\r\n")
        received, waited = _until_closed(sock, trickle=b"X-Slow: a\r\n")
    assert waited < GIVE_UP_S, "a trickle of header lines kept the connection open"
    assert b"408" in received.split(b"\r\n", 1)[0], received[:200]


def test_a_slow_but_timely_request_and_keep_alive_still_work(served: ServedService) -> None:
    with _connect(served) as sock:
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: quartierskarte\r\n", b"\r\n"):
            sock.sendall(part)
            time.sleep(TIMEOUT_S / 5)
        sock.settimeout(30)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
        # The same connection, a while later (but within keep-alive): a new deadline, not the old.
        time.sleep(TIMEOUT_S * 0.6)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: quartierskarte\r\n\r\n")
        time.sleep(TIMEOUT_S * 0.6)  # past the first request's deadline, were it still armed
        second = sock.recv(65536)
        assert second.startswith(b"HTTP/1.1 200"), second[:200]


def test_many_slow_clients_do_not_stop_the_service(served: ServedService) -> None:
    sockets = [_connect(served) for _ in range(50)]
    try:
        for sock in sockets[::2]:
            sock.sendall(b"GET /collections HTTP/1.1\r\nHost: x\r\n")
        assert served.get("/collections/meeting_places/items", params={"limit": 1}).status_code == 200
        time.sleep(TIMEOUT_S * 3)
        closed = 0
        for sock in sockets:
            try:
                closed += sock.recv(4096).startswith(b"HTTP/1.1 408")
            except socket.timeout:
                pass
        assert closed == len(sockets)
    finally:
        for sock in sockets:
            sock.close()
    assert served.get("/healthz").status_code == 200
