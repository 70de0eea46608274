"""Who the client is: its address behind trusted proxies, and the networks limits and logs count.

One home for both questions, so the rate limiter, the reports budget and the access log cannot
disagree about who sent a request: :func:`client_address` picks the address, :func:`network_of`
cuts it to the network that is counted (never the full address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The client's own network (one household, one office) and the wider block it belongs to (one
#: provider's or one data centre's range): IPv4 /24 and /16, IPv6 /48 and /32.
NETWORK_PREFIX = {4: 24, 6: 48}
BLOCK_PREFIX = {4: 16, 6: 32}


class Trust(Protocol):
    """What :func:`client_address` needs to know about the trusted proxies."""

    def knows(self, address: Address) -> bool:
        """Whether ``address`` is one of the proxies named explicitly (``'*'`` does not count)."""
        ...

    def __contains__(self, host: str | None) -> bool: ...


def parse_address(text: str) -> Address | None:
    """An address as proxies write it: bare, ``[v6]:port``, ``v4:port``; IPv4-mapped IPv6 as
    IPv4. None for anything else (``unknown``, obfuscated identifiers, garbage)."""
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port; IPv6 has at least two colons
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Trust) -> str | None:
    """The address of the client, walking ``X-Forwarded-For`` from the right.

    Each proxy appends the address it received the request from, so only the right-most entries
    are written by proxies; anything to their left came from the client and proves nothing.
    Starting from the TCP peer, an entry is believed only while the hop that wrote it is a
    trusted proxy: the first address that is not a trusted proxy is the client.

    ``'*'`` (trust every peer) believes the peer's own entry, the right-most one, but nothing
    further left: with no list of proxies, nothing tells a proxy's entry from a client's. An
    entry that is not an address ends the walk at the last hop that was.

    Parameters
    ----------
    peer
        The TCP peer (``scope["client"][0]``).
    forwarded_for
        Every ``X-Forwarded-For`` header value, in the order received.

    Examples
    --------
    >>> from geo_service.ops.proxy import TrustedProxies
    >>> proxies = TrustedProxies(["10.0.0.0/8"])
    >>> client_address("10.0.0.2", ["6.6.6.6, 198.51.100.7"], proxies)  # 6.6.6.6: client-written
    '198.51.100.7'
    >>> client_address("10.0.0.2", ["198.51.100.7, 10.0.0.9"], proxies)  # two proxies in a row
    '198.51.100.7'
    >>> client_address("203.0.113.5", ["6.6.6.6"], proxies)  # not from a proxy: the peer
    '203.0.113.5'
    """
    if peer is None or peer not in trusted:
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer  # a trusted proxy: it wrote the right-most entry
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        client = str(address)
        if not trusted.knows(address):
            break  # not one of our proxies: the client (what it forwarded proves nothing)
    return client


def network_of(host: str | None, *, wide: bool = False) -> str | None:
    """The client's network (IPv4 /24, IPv6 /48) or, ``wide``, its block (/16, /32).

    Examples
    --------
    >>> network_of("203.0.113.77")
    '203.0.113.0/24'
    >>> network_of("2001:db8:abcd:12::1")
    '2001:db8:abcd::/48'
    >>> network_of("203.0.113.77", wide=True)
    '203.0.0.0/16'
    """
    address = parse_address(host or "")
    if address is None:
        return None
    prefix = (BLOCK_PREFIX if wide else NETWORK_PREFIX)[address.version]
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
