"""Attack suite: server-side request forgery against the page fetcher, all traffic on loopback.

A "secret" loopback server stands for what an attacker wants to reach (a metadata service, an
admin page); every attack asserts the fetch is refused *and* the secret server saw no request.
"Public" sites are loopback servers too: :class:`LoopbackNetwork` routes a public address to the
server standing in for it, so no test leaves the machine. Names resolve through fake resolvers,
including one that rebinds (public to the check, loopback after). Every case is time-bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
import httpx
import pytest

from tests.rawserver import RawServer, http
from thrifty.search.base import Page
from thrifty.search.fetch import FetchTimeout, HttpFetcher
from thrifty.search.netguard import BlockedAddress, NetGuard, is_public

PUBLIC_IP = "93.184.216.34"
SECRET = http("<p>the secret</p>", content_type="text/html")


class LoopbackNetwork(httpcore.AsyncNetworkBackend):
    """Sockets that never leave loopback: a public address connects to the server standing in for it."""

    def __init__(self, public: dict[str, int]) -> None:
        self.public = public
        self.connects: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host in self.public:
            return await self._real.connect_tcp("127.0.0.1", self.public[host], timeout=timeout)
        if ipaddress.ip_address(host).is_loopback:
            return await self._real.connect_tcp(host, port, timeout=timeout)
        raise httpcore.ConnectError(f"the test network does not reach {host}")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Resolver:
    """Answers from a table; ``rebind`` names answer public once, loopback ever after."""

    table: dict[str, list[str]] = field(default_factory=dict)
    rebind: frozenset[str] = frozenset()
    calls: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host in self.rebind:
            return [PUBLIC_IP] if self.calls.count(host) == 1 else ["127.0.0.1"]
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return self.table[host]


@pytest.fixture
async def secret() -> AsyncIterator[RawServer]:
    async with RawServer(SECRET) as server:
        yield server


async def fetch(url: str, *, guard: NetGuard | None = None, public: dict[str, int] | None = None) -> Page | None:
    fetcher = HttpFetcher(guard=guard or NetGuard(), network=LoopbackNetwork(public or {}), timeout=3.0)
    try:
        async with asyncio.timeout(5):
            return await fetcher.fetch(url)
    finally:
        await fetcher.aclose()


LITERALS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://localhost.:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::127.0.0.1]:{port}/",
    "http://[64:ff9b::7f00:1]:{port}/",
    "http://[2002:7f00:1::]:{port}/",
    "http://public.test@127.0.0.1:{port}/",
    "http://[fe80::1%25lo]:{port}/",
]


@pytest.mark.parametrize("template", LITERALS)
async def test_loopback_in_any_spelling_is_refused(template: str, secret: RawServer) -> None:
    with pytest.raises(BlockedAddress):
        await fetch(template.format(port=secret.port))
    assert secret.hits == 0


NON_PUBLIC = [
    "169.254.169.254",
    "::ffff:169.254.169.254",
    "::a9fe:a9fe",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::808:808",
    "64:ff9b:1::1",
    "2002:a9fe:a9fe::",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "192.0.0.1",
    "198.18.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "fc00::1",
    "fe80::1",
    "ff02::1",
    "::",
]


@pytest.mark.parametrize("address", NON_PUBLIC)
async def test_non_public_address_classes_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    guard = NetGuard(resolver=Resolver({"evil.test": [address]}))
    with pytest.raises(BlockedAddress, match="non-public"):
        await guard.vet("evil.test", 80)


@pytest.mark.parametrize("address", [PUBLIC_IP, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("scheme", ["file:///etc/passwd", "ftp://example.org/", "gopher://127.0.0.1:70/", "http:///x"])
async def test_other_schemes_and_hostless_urls_are_refused(scheme: str) -> None:
    with pytest.raises(BlockedAddress):
        await fetch(scheme)


async def test_a_name_resolving_to_loopback_is_refused(secret: RawServer) -> None:
    guard = NetGuard(resolver=Resolver({"inside.test": ["127.0.0.1"]}))
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.1"):
        await fetch(f"http://inside.test:{secret.port}/", guard=guard)
    assert secret.hits == 0


async def test_a_mixed_answer_with_one_private_address_is_refused(secret: RawServer) -> None:
    guard = NetGuard(resolver=Resolver({"mixed.test": [PUBLIC_IP, "127.0.0.1"]}))
    with pytest.raises(BlockedAddress):
        await fetch(f"http://mixed.test:{secret.port}/", guard=guard, public={PUBLIC_IP: secret.port})
    assert secret.hits == 0


async def test_dns_rebinding_cannot_reach_loopback(secret: RawServer) -> None:
    async with RawServer(http("<p>the public page</p>", content_type="text/html")) as site:
        resolver = Resolver(rebind=frozenset({"rebind.test"}))
        network = LoopbackNetwork({PUBLIC_IP: site.port})
        fetcher = HttpFetcher(guard=NetGuard(resolver=resolver), network=network, timeout=3.0)
        page = await fetcher.fetch(f"http://rebind.test:{secret.port}/")
        await fetcher.aclose()
    assert page is not None and "the public page" in page.text
    assert resolver.calls == ["rebind.test"]  # resolved once: the connect used the vetted address
    assert network.connects == [(PUBLIC_IP, secret.port)]
    with pytest.raises(BlockedAddress):  # the next connection sees the rebound answer and is refused
        await fetch(f"http://rebind.test:{secret.port}/", guard=NetGuard(resolver=resolver))
    assert secret.hits == 0


def redirect(location: str) -> bytes:
    return http("", status="302 Found", headers=(f"Location: {location}",))


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://inside.test:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
async def test_every_redirect_hop_is_checked(target: str, secret: RawServer) -> None:
    async with RawServer(redirect(target.format(port=secret.port))) as site:
        guard = NetGuard(resolver=Resolver({"public.test": [PUBLIC_IP], "inside.test": ["127.0.0.1"]}))
        with pytest.raises(BlockedAddress):
            await fetch("http://public.test/start", guard=guard, public={PUBLIC_IP: site.port})
        assert site.hits == 1
    assert secret.hits == 0


async def test_a_redirect_loop_ends() -> None:
    async with RawServer(redirect("http://public.test/again")) as site:
        guard = NetGuard(resolver=Resolver({"public.test": [PUBLIC_IP]}))
        with pytest.raises(BlockedAddress, match="redirects"):
            await fetch("http://public.test/", guard=guard, public={PUBLIC_IP: site.port})


async def test_allow_hosts_honours_the_port(secret: RawServer) -> None:
    async with RawServer(redirect(f"http://127.0.0.1:{secret.port}/")) as entry:
        guard = NetGuard(allow_hosts=frozenset({f"127.0.0.1:{entry.port}"}))
        with pytest.raises(BlockedAddress):  # the allowed service redirects to another one
            await fetch(f"http://127.0.0.1:{entry.port}/", guard=guard)
        assert entry.hits == 1
    with pytest.raises(BlockedAddress):  # a bare host allows only the default ports
        await fetch(f"http://127.0.0.1:{secret.port}/", guard=NetGuard(allow_hosts=frozenset({"127.0.0.1"})))
    assert secret.hits == 0
    page = await fetch(
        f"http://127.0.0.1:{secret.port}/", guard=NetGuard(allow_hosts=frozenset({f"127.0.0.1:{secret.port}"}))
    )
    assert page is not None and secret.hits == 1


def test_allow_hosts_entries() -> None:
    guard = NetGuard(allow_hosts=frozenset({"a.test", "[::1]:8080", "b.test:81"}))
    assert guard.allows_host("a.test", 443) and guard.allows_host("a.test", 80) and not guard.allows_host("a.test", 81)
    assert guard.allows_host("::1", 8080) and not guard.allows_host("::1", 80)
    assert guard.allows_host("b.test", 81) and not guard.allows_host("b.test", 80)


async def test_a_proxy_in_the_environment_is_not_used(secret: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", secret.url)
    monkeypatch.setenv("ALL_PROXY", secret.url)
    async with RawServer(http("<p>public</p>", content_type="text/html")) as site:
        guard = NetGuard(resolver=Resolver({"public.test": [PUBLIC_IP]}))
        page = await fetch("http://public.test/", guard=guard, public={PUBLIC_IP: site.port})
    assert page is not None and secret.hits == 0


@pytest.mark.parametrize("answer", [[], OSError("SERVFAIL")])
async def test_names_that_do_not_resolve_are_refused(answer: object) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    with pytest.raises(BlockedAddress, match="resolve"):
        await NetGuard(resolver=resolver).vet("nowhere.test", 80)


async def drip(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.2)


async def stall(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


@pytest.mark.parametrize("reply", [drip, stall], ids=["one byte at a time", "no answer"])
async def test_the_timeout_is_a_deadline_for_the_whole_fetch(reply: object) -> None:
    async with RawServer(reply) as slow:  # type: ignore[arg-type]
        fetcher = HttpFetcher(guard=NetGuard(allow_hosts=frozenset({f"127.0.0.1:{slow.port}"})), timeout=1.0)
        start = time.monotonic()
        with pytest.raises(FetchTimeout, match="longer than 1 s"):
            await fetcher.fetch(slow.url)
        elapsed = time.monotonic() - start
        await fetcher.aclose()
    assert elapsed < 3.0  # a 1 s deadline; the drip alone would run 200 s


async def test_a_public_site_is_fetched_through_the_guard() -> None:
    async with RawServer(http("<title>T</title><p>hello</p>", content_type="text/html")) as site:
        guard = NetGuard(resolver=Resolver({"public.test": [PUBLIC_IP]}))
        page = await fetch("http://public.test/page", guard=guard, public={PUBLIC_IP: site.port})
        assert site.heads and b"Host: public.test" in site.heads[0]  # the name, not the pinned address
    assert page is not None and "hello" in page.text


async def test_an_unknown_charset_is_read_as_utf8() -> None:
    reply = http("<p>caf\u00e9</p>", content_type="text/html; charset=no-such-codec")
    async with RawServer(reply) as site:
        page = await fetch(site.url, guard=NetGuard(allow_hosts=frozenset({f"127.0.0.1:{site.port}"})))
    assert page is not None and "caf\u00e9" in page.text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for public.test (the openssl command line, as on any Debian)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=public.test",
            "-addext",
            "subjectAltName=DNS:public.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.mark.parametrize(("name", "ok"), [("public.test", True), ("other.test", False)])
async def test_tls_checks_the_name_while_connecting_to_the_pinned_address(
    certificate: tuple[Path, Path], name: str, ok: bool
) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    async with RawServer(http("<p>over tls</p>", content_type="text/html"), tls=server_tls) as site:
        guard = NetGuard(resolver=Resolver({"public.test": [PUBLIC_IP], "other.test": [PUBLIC_IP]}))
        network = LoopbackNetwork({PUBLIC_IP: site.port})
        fetcher = HttpFetcher(guard=guard, network=network, verify=ssl.create_default_context(cafile=cert))
        try:
            if ok:  # SNI and the certificate check use the name; the socket went to the vetted address
                page = await fetcher.fetch(f"https://{name}/")
                assert page is not None and "over tls" in page.text
                assert network.connects == [(PUBLIC_IP, 443)] and b"Host: public.test" in site.heads[0]
            else:  # the same address under a name the certificate does not cover is refused
                with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                    await fetcher.fetch(f"https://{name}/")
        finally:
            await fetcher.aclose()
