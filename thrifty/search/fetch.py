"""Real-web page fetching: httpx with a total deadline, a size cap, a content-type check and the
SSRF guard at connect time on every hop (:mod:`thrifty.search.pinned`; redirects are followed by
hand so each hop's scheme is checked too). HTML becomes text with trafilatura when installed
(``thrifty[web]``), else a small standard-library extractor that drops scripts, styles and
navigation chrome.

The deadline covers the whole fetch, redirects and body included: httpx's timeouts are per
operation, so a server dripping one byte a second would otherwise hold a 3 s timeout for minutes.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpcore
import httpx

from thrifty.search.base import Page
from thrifty.search.netguard import BlockedAddress, NetGuard
from thrifty.search.pinned import GuardedTransport

_SKIP = {"script", "style", "nav", "header", "footer", "aside", "noscript", "form", "svg", "template"}
_BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "pre", "table"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, main text) of an HTML document."""
    parser = _TextExtractor()
    parser.feed(html)
    title = " ".join(parser.title.split())
    try:
        import trafilatura  # type: ignore[import-not-found]

        text = trafilatura.extract(html, output_format="markdown", include_tables=True)
        if text:
            return title, text
    except ImportError:
        pass
    text = unescape("".join(parser.parts))
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text)
    return title, text.strip()


def _decode(body: bytes, charset: str | None) -> str:
    """The body as text in its declared charset; an unknown charset (a server can name any) is UTF-8."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class FetchTimeout(TimeoutError):
    """A fetch ran past its total deadline."""


class HttpFetcher:
    """Fetch pages from the web (or a loopback server when the guard allows it).

    ``timeout`` is the deadline for the whole fetch. ``verify`` is the TLS context (default: the
    system's CAs via certifi). ``network`` replaces the socket layer under the guard (tests route
    "public" addresses to loopback servers with it).
    """

    def __init__(
        self,
        *,
        guard: NetGuard | None = None,
        timeout: float = 20.0,
        max_bytes: int = 3_000_000,
        max_redirects: int = 5,
        network: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | None = None,
        user_agent: str = "thrifty/0.1 (+https://github.com/thrifty-agents)",
    ) -> None:
        self.guard = guard or NetGuard()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(self.guard, network=network, verify=verify),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would connect for us, unvetted
            headers={"User-Agent": user_agent},
        )

    async def fetch(self, url: str) -> Page | None:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._fetch(url)
        except TimeoutError as exc:
            if isinstance(exc, FetchTimeout):
                raise
            raise FetchTimeout(f"fetching {url} took longer than {self.timeout:g} s") from None

    async def _fetch(self, url: str) -> Page | None:
        for _ in range(self.max_redirects + 1):
            self.guard.check_url(url)  # BlockedAddress propagates: the tool reports it to the model
            async with self._client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code == 404:
                    return None
                response.raise_for_status()
                kind = response.headers.get("content-type", "text/html").split(";")[0].strip().lower()
                if not (kind.startswith("text/") or kind in {"application/xhtml+xml", "application/json"}):
                    raise ValueError(f"unsupported content type {kind}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        break
                text = _decode(bytes(body[: self.max_bytes]), response.charset_encoding)
            if kind in {"text/html", "application/xhtml+xml"}:
                title, text = await asyncio.to_thread(html_to_text, text)  # CPU-bound: off the event loop
                return Page(url=url, title=title or url, text=text, source="web")
            return Page(url=url, title=url, text=text, source="web")
        raise BlockedAddress(f"more than {self.max_redirects} redirects")

    async def aclose(self) -> None:
        await self._client.aclose()
