"""A loopback HTTP server that answers every request with the exact bytes a test gives it.

Raw sockets, so a test can send what no HTTP library would: a broken status line, a lying
Content-Length, bad chunking, a body that drips one byte a second. Used by the attack tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

Reply = bytes | Callable[[asyncio.StreamWriter], Awaitable[None]]


def http(
    body: bytes | str,
    *,
    status: str = "200 OK",
    content_type: str = "application/json",
    headers: tuple[str, ...] = (),
    length: bool = True,
) -> bytes:
    """A raw HTTP/1.1 response that closes the connection."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", "Connection: close", *headers]
    if length:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


class RawServer:
    """Counts the requests it gets (``hits``) and the request heads (``heads``)."""

    def __init__(self, reply: Reply, *, tls: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.tls = tls
        self.hits = 0
        self.heads: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            self.heads.append(head)
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if m:
                await reader.readexactly(int(m.group(1)))
            if isinstance(self.reply, bytes):
                writer.write(self.reply)
                await writer.drain()
            else:
                await self.reply(writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a cancelled handler ends quietly: asyncio's stream callback would log it as an error
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


@contextlib.asynccontextmanager
async def serving(reply: Reply) -> AsyncIterator[RawServer]:
    async with RawServer(reply) as server:
        yield server
