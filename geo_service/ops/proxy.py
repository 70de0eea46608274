"""Behind a reverse proxy: believe X-Forwarded-* from trusted peers only, publish under a prefix.

One place decides whom to trust (the ``trusted_proxies`` setting), so ``geo-service serve`` runs
uvicorn without its own proxy-header handling; uvicorn would rewrite the client address before
the app could check the peer, and it does not know X-Forwarded-Host or X-Forwarded-Prefix.
"""

from __future__ import annotations

import ipaddress
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from geo_service.ops.clients import Address, client_address

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)*/?$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """Addresses and networks (``10.0.0.0/8``) allowed to speak for the client; ``*`` is all."""

    def __init__(self, entries: list[str]) -> None:
        self.everyone = "*" in entries
        self.networks: list[Network] = []
        for entry in entries:
            if entry != "*":
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))

    def __contains__(self, host: str | None) -> bool:
        if self.everyone:
            return True
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return self.knows(ip)

    def knows(self, address: Address) -> bool:
        """Whether ``address`` lies in a network named explicitly (``*`` names none)."""
        return any(address in net for net in self.networks)


def _first(value: str) -> str:
    """The left-most value of a header a chain of proxies appended to."""
    return value.split(",")[0].strip()


class ForwardedMiddleware:
    """Scheme, host, client and path prefix as the client saw them.

    From a trusted peer: ``X-Forwarded-Proto`` (http/https), ``X-Forwarded-Host`` (a host name
    with optional port), ``X-Forwarded-For`` (the client, for the truncated address in logs and
    the rate limits: the right-most hop that is not a trusted proxy, see
    :func:`geo_service.ops.clients.client_address`) and ``X-Forwarded-Prefix``. The configured ``root_path`` applies to every
    request; Starlette then routes ``/quartierskarte/collections`` and ``/collections`` alike, so
    it does not matter whether the proxy strips the prefix.
    """

    def __init__(self, app: ASGIApp, *, trusted: list[str], root_path: str = "") -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        root_path = self.root_path
        client = scope.get("client")
        if client and client[0] in self.trusted:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                       if k.startswith(b"x-forwarded-")}
            # Every X-Forwarded-For line, in order (a dict above keeps only the last one).
            forwarded_for = [v.decode("latin-1") for k, v in scope["headers"]
                             if k == b"x-forwarded-for"]
            proto = _first(headers.get("x-forwarded-proto", "")).lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
            host = _first(headers.get("x-forwarded-host", ""))
            if host and _HOST.match(host):
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"]
                scope["headers"].append((b"host", host.encode("latin-1")))
            if forwarded_for:
                # The right-most hop our proxies did not write, never the client's own claim.
                scope["client"] = (client_address(client[0], forwarded_for, self.trusted) or client[0], 0)
            prefix = _first(headers.get("x-forwarded-prefix", ""))
            if prefix and _PREFIX.match(prefix):
                root_path = prefix.rstrip("/")
        if root_path:
            scope["root_path"] = root_path
        await self.app(scope, receive, send)
