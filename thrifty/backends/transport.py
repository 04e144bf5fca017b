"""A lean HTTP/1.1 transport for the openai client's httpx, for high-concurrency batch work.

httpx's default transport (httpcore: a connection pool scanned on every request, h11, anyio) costs
about as much CPU per call as everything else in a thrifty step; at 64 calls in flight that CPU
becomes latency (benchmarks/eval_throughput.py). This transport keeps idle keep-alive connections
per origin in a deque and speaks just the HTTP/1.1 that OpenAI-compatible servers answer
non-streaming requests with: ``Content-Length`` or chunked bodies, keep-alive, TLS for https.

It plugs in under the openai client (:func:`lean_http_client`), so retries, error types and timeouts
stay the openai client's. Errors are raised as the exception types of the HTTP library the openai
client runs on (httpx2 from openai 3, httpx before: ``ConnectError``, ``ReadTimeout`` …), which the
openai client already retries.
A malformed status line, Content-Length or chunking, or a body over :data:`MAX_BODY_BYTES`, is a
``RemoteProtocolError``, never a raw ``ValueError`` (tests/unit/test_malformed_responses.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from typing import Any

try:  # the HTTP library the openai client itself runs on: httpx2 from openai 3, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover - openai < 3
    import httpx  # type: ignore[no-redef]

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_idle_per_origin: int = 1024, verify: ssl.SSLContext | bool = True) -> None:
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._max_idle = max_idle_per_origin
        self._ssl = verify
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin = (
            request.url.scheme,
            request.url.host,
            request.url.port or (443 if request.url.scheme == "https" else 80),
        )
        body = await request.aread()
        head = _head(request, len(body))
        reused, conn = await self._connection(origin, timeouts.get("connect"))
        try:
            return await self._exchange(conn, head + body, timeouts.get("read"), origin)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            if not reused:
                raise
        # A kept-alive connection that failed at once is most often one the server had closed while it
        # sat idle: one more try on a fresh connection, as httpcore does. (_exchange closed the old
        # one.) A fresh connection's failure goes to the openai client, which retries with backoff.
        _, conn = await self._connection(origin, timeouts.get("connect"), fresh=True)
        return await self._exchange(conn, head + body, timeouts.get("read"), origin)

    async def _connection(
        self, origin: tuple[str, str, int], seconds: float | None, *, fresh: bool = False
    ) -> tuple[bool, _Conn]:
        idle = self._idle.setdefault(origin, deque())
        while idle and not fresh:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return True, (reader, writer)
            writer.close()
        scheme, host, port = origin
        tls: Any = (ssl.create_default_context() if self._ssl is True else self._ssl) if scheme == "https" else None
        if tls is False:
            tls = ssl._create_unverified_context()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=tls), seconds)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}") from exc
        return False, (reader, writer)

    async def _exchange(
        self, conn: _Conn, data: bytes, seconds: float | None, origin: tuple[str, str, int]
    ) -> httpx.Response:
        reader, writer = conn
        try:
            writer.write(data)
            status, headers, content, keep_alive = await asyncio.wait_for(_read_response(reader), seconds)
        except TimeoutError as exc:
            _close(conn)
            raise httpx.ReadTimeout("timed out waiting for the server's response") from exc
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            _close(conn)
            raise httpx.ReadError(f"connection lost: {exc!r}") from exc
        except BaseException:  # cancelled, or a malformed response: the connection is in an unknown state
            _close(conn)
            raise
        if keep_alive and not self._closed and len(self._idle[origin]) < self._max_idle:
            self._idle[origin].append(conn)
        else:
            _close(conn)
        return httpx.Response(status, headers=headers, content=content)

    async def aclose(self) -> None:
        self._closed = True
        writers = [conn[1] for idle in self._idle.values() for conn in idle]
        self._idle.clear()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()


def _close(conn: _Conn) -> None:
    conn[1].close()


def _head(request: httpx.Request, length: int) -> bytes:
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1"]
    seen = set()
    for name, value in request.headers.multi_items():
        key = name.lower()
        if key in ("content-length", "transfer-encoding", "connection", "accept-encoding"):
            continue
        seen.add(key)
        lines.append(f"{name}: {value}")
    if "host" not in seen:
        lines.append(f"Host: {request.url.netloc.decode('ascii')}")
    lines.append("Accept-Encoding: identity")  # bodies come back as sent: no decoder needed here
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


MAX_BODY_BYTES = 256 * 1024 * 1024
"""A chat completion body is kilobytes (megabytes with logprobs); a server sending more is broken."""


def _status(status_line: str) -> int:
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (parts[1].isascii() and parts[1].isdigit()):
        raise httpx.RemoteProtocolError(f"malformed status line {status_line[:100]!r}")
    status = int(parts[1])
    if not 100 <= status <= 599:
        raise httpx.RemoteProtocolError(f"status {status} out of range")
    return status


def _content_length(values: list[str]) -> int:
    if len(set(values)) != 1 or not (values[0].isascii() and values[0].isdigit()):
        raise httpx.RemoteProtocolError(f"malformed Content-Length {values!r}"[:120])
    length = int(values[0])
    if length > MAX_BODY_BYTES:
        raise httpx.RemoteProtocolError(f"Content-Length {length} is over the {MAX_BODY_BYTES}-byte limit")
    return length


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = raw.decode("latin-1").split("\r\n")
        status = _status(status_line)
        if status != 100:
            break
    headers = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines if h)]
    fields = {k.lower(): v for k, v in headers}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        content = await _read_chunked(reader)
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
    elif "content-length" in fields:
        content = await reader.readexactly(_content_length([v for k, v in headers if k.lower() == "content-length"]))
    else:
        content = await reader.read(MAX_BODY_BYTES + 1)  # delimited by close
        if len(content) > MAX_BODY_BYTES or not reader.at_eof():
            raise httpx.RemoteProtocolError(f"body over the {MAX_BODY_BYTES}-byte limit")
        fields["connection"] = "close"
    keep_alive = fields.get("connection", "").lower() != "close" and not status_line.startswith("HTTP/1.0")
    return status, headers, content, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_field = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise httpx.RemoteProtocolError(f"malformed chunk size {size_field[:40]!r}") from None
        if size < 0 or total + size > MAX_BODY_BYTES:
            raise httpx.RemoteProtocolError(f"chunk size {size} is out of range")
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any, end with an empty line
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        total += size
        if await reader.readexactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError("a chunk is longer than its size says")


def lean_http_client(timeout: float, max_connections: int = 1024) -> httpx.AsyncClient:
    """An HTTP client for ``openai.AsyncOpenAI(http_client=...)`` running on :class:`LeanTransport`,
    keeping up to ``max_connections`` idle connections per server (size it to the calls in flight)."""
    return httpx.AsyncClient(transport=LeanTransport(max_idle_per_origin=max_connections), timeout=timeout)


def pooled_http_client(timeout: float, max_connections: int) -> httpx.AsyncClient:
    """httpx's own transport (https endpoints: proxies, HTTP/2) with the openai client's defaults, its
    pool sized to ``max_connections`` open and kept-alive (the openai default keeps only 100 alive)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=True)
