"""Internal endpoints stay internal by where they listen, not by path rules: tried from the
attacker's side against ``geo-service serve``.

The client here is 127.0.0.1, which the shipped ``trusted_proxies`` trusts: exactly the position
of a client behind a proxy that passes X-Forwarded-Prefix on (the bypass of issue 10).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.utils.served import ServedService

SIGNS_OF_METRICS = (b"geo_service_http_requests_total", b"# TYPE", b"process_cpu_seconds")

#: (request target, extra headers) sent verbatim on a raw socket.
ATTEMPTS = [
    ("/metrics", {}),
    ("/metrics/", {}),
    ("//metrics", {}),
    ("/./metrics", {}),
    ("/static/../metrics", {}),
    ("/api/../metrics", {}),
    ("/%6detrics", {}),
    ("/%6D%65%74%72%69%63%73", {}),
    ("/%2fmetrics", {}),
    ("/METRICS", {}),
    ("/metrics;x=1", {}),
    ("/metrics%00", {}),
    ("/metrics%20", {}),
    ("/metrics?format=prometheus", {}),
    ("/qk/metrics", {}),
    ("/qk/metrics", {"X-Forwarded-Prefix": "/qk"}),
    ("/metrics", {"X-Forwarded-Prefix": "/public"}),
    ("/public/metrics", {"X-Forwarded-Prefix": "/public", "X-Forwarded-Proto": "https"}),
    ("/", {"X-Forwarded-Prefix": "/metrics"}),
    ("/", {"X-Original-URL": "/metrics"}),
    ("/", {"X-Rewrite-URL": "/metrics"}),
    ("http://127.0.0.1/metrics", {}),
    ("/collections/../metrics", {"X-Forwarded-Prefix": "/x/.."}),
]


def raw_get(port: int, target: str, headers: dict[str, str], method: str = "GET") -> tuple[int, bytes]:
    """One request exactly as written (no client normalises the path), the status and body."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture(scope="module")
def served(module_db_url: str) -> Iterator[ServedService]:
    with ServedService(make_settings(module_db_url, root_path="/qk")) as live:
        yield live


@pytest.mark.parametrize(("target", "headers"), ATTEMPTS)
def test_the_public_port_never_answers_metrics(served: ServedService, target: str,
                                                headers: dict[str, str]) -> None:
    served.get("/collections/meeting_places/items", params={"limit": 1})  # something to count
    for method in ("GET", "HEAD"):
        status, body = raw_get(served.port, target, headers, method)
        assert not any(sign in body for sign in SIGNS_OF_METRICS), (method, target, status)
        if target.rstrip("/").endswith(("metrics", "metrics;x=1", "metrics%00", "metrics%20")) \
                or "?" in target:
            assert status in (400, 404), (method, target, status)


def test_the_internal_listener_answers_metrics_and_nothing_else(served: ServedService) -> None:
    response = httpx.get(served.metrics_url, timeout=30)
    assert response.status_code == 200
    assert "geo_service_http_requests_total" in response.text
    for path in ("/", "/collections", "/metrics/../collections", "/healthz"):
        status, body = raw_get(served.metrics_port, path, {})
        assert status == 404 and not any(s in body for s in SIGNS_OF_METRICS), path


def test_the_internal_listener_is_bound_to_loopback(served: ServedService) -> None:
    # The machine's own address towards the outside, if it has one (no packet is sent).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            own = probe.getsockname()[0]
        except OSError:
            own = "127.0.0.1"
    listening = [line.split() for line in open("/proc/net/tcp").read().splitlines()[1:]]
    port_hex = f"{served.metrics_port:04X}"
    bound = [local for _, local, _, state, *_ in listening
             if local.endswith(f":{port_hex}") and state == "0A"]  # 0A: LISTEN
    assert bound == ["0100007F:" + port_hex], bound  # 127.0.0.1 only
    if not own.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((own, served.metrics_port), timeout=5).close()


def test_metrics_can_be_switched_off(db_url: str) -> None:
    with ServedService(make_settings(db_url, metrics_enabled=False)) as live:
        assert live.get("/healthz").status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(live.metrics_url, timeout=5)
        status, body = raw_get(live.port, "/metrics", {})
        assert status == 404 and not any(s in body for s in SIGNS_OF_METRICS)
