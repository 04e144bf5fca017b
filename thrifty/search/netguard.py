"""SSRF guard: page fetching refuses private, loopback, link-local and other non-public addresses.

The check happens where the connection is made (:mod:`thrifty.search.pinned`): a name is resolved
once, every address it resolves to is vetted, and the socket connects to a vetted address, never to
a second resolution (a rebinding resolver answering a public address to the check and 127.0.0.1 to
the connect gets nowhere). Every redirect hop opens its connection through the same path.

Not public: everything IANA's special-purpose registries mark so (``is_global``), multicast and
reserved space, and IPv6 forms that carry an IPv4 address a router would translate: IPv4-mapped and
IPv4-compatible addresses are judged by the IPv4 address inside, and NAT64 (64:ff9b::/96,
64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32) are refused outright.

``allow_private=True`` is for local testing (e.g. the loopback web server over the offline corpus);
``allow_hosts`` lets named hosts through: ``"host:port"`` allows that port, a bare ``"host"`` only
the default ports 80 and 443 (a redirect to another service on an allowed host is still refused).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> addresses``: how a name becomes addresses (tests pass a rebinding one)."""

_TRANSLATED = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32"))
_DEFAULT_PORTS = (80, 443)


class BlockedAddress(Exception):
    """The URL points at an address the guard does not allow."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address in an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d) address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (:: and ::1 are judged as IPv6)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast that no router translates to somewhere else."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id or any(ip in net for net in _TRANSLATED):
            return False
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
    special = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
    return ip.is_global and not special and not ip.is_unspecified


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class NetGuard:
    allow_private: bool = False
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    schemes: frozenset[str] = frozenset({"http", "https"})
    resolver: Resolver = system_resolver

    def check_url(self, url: str) -> None:
        """Raise :class:`BlockedAddress` for a scheme that is not allowed or a URL without a host."""
        parts = urlsplit(url)
        if parts.scheme not in self.schemes:
            raise BlockedAddress(f"scheme {parts.scheme!r} is not allowed")
        if not parts.hostname:
            raise BlockedAddress("URL has no host")

    def allows_host(self, host: str, port: int) -> bool:
        name = f"[{host}]" if ":" in host else host
        return f"{name}:{port}" in self.allow_hosts or (name in self.allow_hosts and port in _DEFAULT_PORTS)

    async def vet(self, host: str, port: int) -> list[str]:
        """The addresses a connection to ``host:port`` may use; :class:`BlockedAddress` if none may."""
        host = host.rstrip(".") or host
        addresses = [host] if _literal(host) is not None else await self._resolve(host, port)
        if self.allow_private or self.allows_host(host, port):
            return addresses
        for address in addresses:
            ip = _literal(address)
            if ip is None or not is_public(ip):
                raise BlockedAddress(f"{host} resolves to non-public address {address}")
        return addresses

    async def check(self, url: str) -> None:
        """The whole check for one URL without connecting (the fetcher checks at connect time)."""
        self.check_url(url)
        parts = urlsplit(url)
        await self.vet(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            addresses = await self.resolver(host, port)
        except OSError as exc:
            raise BlockedAddress(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise BlockedAddress(f"{host} resolves to no address")
        return addresses
