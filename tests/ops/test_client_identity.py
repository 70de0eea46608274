"""Whom the service believes, from the attacker's side: a client behind an appending proxy
writes its own X-Forwarded-For entries to dodge the rate limiter and the reports budget, or to
spend someone else's; a flood of reports from many networks trips the breaker, which raises an
alert instead of silently closing the door."""

from __future__ import annotations

from geo_service.ops.clients import client_address, network_of
from geo_service.ops.proxy import TrustedProxies
from tests.conftest import make_settings
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
