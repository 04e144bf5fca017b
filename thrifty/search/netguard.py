"""SSRF guard: page fetching refuses private, loopback, link-local and other non-public addresses.

Checked after DNS resolution (a public-looking name that resolves to 127.0.0.1 is refused) and
again on every redirect hop. ``allow_private=True`` (or explicit ``allow_hosts``) is for local
testing, e.g. the loopback web server over the offline corpus.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class BlockedAddress(Exception):
    """The URL points at an address the guard does not allow."""


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast (IANA's special-purpose registries say what is not)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public(ip.ipv4_mapped)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class NetGuard:
    allow_private: bool = False
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    schemes: frozenset[str] = frozenset({"http", "https"})

    async def check(self, url: str) -> None:
        """Raise :class:`BlockedAddress` unless ``url`` may be fetched."""
        parts = urlsplit(url)
        if parts.scheme not in self.schemes:
            raise BlockedAddress(f"scheme {parts.scheme!r} is not allowed")
        host = parts.hostname
        if not host:
            raise BlockedAddress("URL has no host")
        if self.allow_private or host in self.allow_hosts:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise BlockedAddress(f"cannot resolve {host}: {exc}") from exc
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if not is_public(address):
                raise BlockedAddress(f"{host} resolves to non-public address {address}")
