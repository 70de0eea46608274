"""Whom the service believes, from the attacker's side: a client behind an appending proxy
writes its own X-Forwarded-For entries to dodge the rate limiter and the reports budget, or to
spend someone else's; a flood of reports from many networks trips the breaker, which raises an
alert instead of silently closing the door."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from geo_service.ops.clients import client_address, network_of
from geo_service.ops.proxy import TrustedProxies
from tests.conftest import make_settings
from tests.utils.served import ServedService
from tests.utils.server import LiveServer


def test_the_right_most_untrusted_hop_is_the_client() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    # What an appending proxy makes of a client that wrote its own header.
    assert client_address("127.0.0.1", ["6.6.6.6, 203.0.113.9"], proxies) == "203.0.113.9"
    # Two proxies: the client is the first hop from the right that is not one of them.
    assert client_address("127.0.0.1", ["6.6.6.6, 203.0.113.9, 10.1.2.3"], proxies) == "203.0.113.9"
    # Several header lines count as one list, in order.
    assert client_address("127.0.0.1", ["6.6.6.6", "203.0.113.9"], proxies) == "203.0.113.9"
    # Ports and brackets as proxies write them; garbage ends the walk at the last real hop.
    assert client_address("127.0.0.1", ["[2001:db8::7]:4711"], proxies) == "2001:db8::7"
    assert client_address("127.0.0.1", ["203.0.113.9:80"], proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", ["6.6.6.6, unknown, 10.1.2.3"], proxies) == "10.1.2.3"
    # Not from a proxy: the header is the client's own claim and is ignored.
    assert client_address("198.51.100.4", ["6.6.6.6"], proxies) == "198.51.100.4"
    # '*' believes the peer's own entry and nothing further left.
    everyone = TrustedProxies(["*"])
    assert client_address("192.0.2.1", ["6.6.6.6, 203.0.113.9"], everyone) == "203.0.113.9"
    assert network_of("203.0.113.9") == "203.0.113.0/24"
    assert network_of("203.0.113.9", wide=True) == "203.0.0.0/16"
    assert network_of("::ffff:203.0.113.9") == "203.0.113.0/24"


def _as_proxy(real: str, *spoofed: str) -> dict[str, str]:
    """The header an appending proxy (nginx's $proxy_add_x_forwarded_for) passes on: what the
    client wrote, then the address the proxy saw."""
    return {"X-Forwarded-For": ", ".join([*spoofed, real])}


def test_spoofed_forwarded_for_does_not_dodge_the_rate_limit(db_url: str) -> None:
    # The test client reaches the app from 127.0.0.1, the shipped trusted proxy.
    with LiveServer(make_settings(db_url, rate_limit_reads=5)) as live:
        statuses = [live.get("/collections", headers=_as_proxy(
            "203.0.113.9", f"10.{n}.{n}.{n}", f"198.18.{n}.1")).status_code for n in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429], statuses
        # Naming a victim in front does not spend the victim's budget either.
        victim = live.get("/collections", headers=_as_proxy("198.51.100.7", "203.0.113.9"))
        assert victim.status_code == 200
        assert live.get("/collections", headers=_as_proxy("203.0.113.9", "198.51.100.7")
                        ).status_code == 429


def _report(live: LiveServer, real: str, *spoofed: str, feature: str = "meeting_places.1"):  # type: ignore[no-untyped-def]
    return live.client.post("/reports", content=json.dumps({
        "feature": feature, "message": "Die Öffnungszeiten stimmen nicht mehr."}),
        headers={"Content-Type": "application/json", **_as_proxy(real, *spoofed)})


@pytest.fixture
def reports_server(db_url: str, tmp_path: Path) -> Iterator[tuple[ServedService, Path]]:
    """Small budgets the test names: 2 per network, 4 per block, 6 over all (the breaker).
    Served as in production, so the alert's counter can be read on the internal listener."""
    log = tmp_path / "server.log"
    settings = make_settings(db_url, report_limit_per_client=2, report_limit_per_block=4,
                             report_limit_total=6)
    with ServedService(settings, log=log) as live:
        yield live, log


def test_reports_budget_per_network_per_block_and_the_breaker(
        reports_server: tuple[ServedService, Path], db_url: str) -> None:
    live, log = reports_server
    # One network, rotating the entries it writes itself: its own budget, then 429.
    mine = [_report(live, "203.0.113.9", f"10.0.{n}.1").status_code for n in range(3)]
    assert mine == [201, 201, 429], mine
    limited = _report(live, "203.0.113.77", "8.8.8.8")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    # A missing feature uses up nothing (the attempt is rolled back with its counters).
    assert _report(live, "192.0.2.1", feature="meeting_places.999999").status_code == 404
    # Many networks of one block (198.51.0.0/16): the block's budget, then 429.
    block = [_report(live, f"198.51.{n}.20").status_code for n in range(1, 6)]
    assert block == [201, 201, 201, 201, 429], block
    # Six stored this hour from all networks: the breaker opens for everyone, with an alert.
    assert _report(live, "192.0.2.1").status_code == 503
    paused = _report(live, "100.64.0.1")
    assert paused.status_code == 503 and int(paused.headers["retry-after"]) > 0
    assert "paused" in paused.json()["description"]
    metrics = live.metrics()
    assert "geo_service_reports_breaker_refusals_total 2.0" in metrics
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM reports").fetchone()[0]  # type: ignore[index]
        buckets = [r[0] for r in conn.execute("SELECT bucket FROM report_counters")]
    assert stored == 6
    assert not any("203.0.113" in b or "198.51" in b for b in buckets)  # hashes only
    alerts = [json.loads(line) for line in log.read_text().splitlines()
              if line.startswith("{") and "circuit breaker" in line]
    assert len(alerts) == 1 and alerts[0]["level"] == "ERROR", alerts  # once, not per refusal
