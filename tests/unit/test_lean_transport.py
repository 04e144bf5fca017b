"""The lean HTTP/1.1 transport against a real loopback server that misbehaves in the ways servers do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import openai
import pytest

from thrifty.backends.process import free_port
from thrifty.backends.transport import LeanTransport, httpx, lean_http_client

Reply = Callable[[bytes, int], bytes]


def content_length(body: bytes, _: int) -> bytes:
    data = json.dumps({"echo": json.loads(body or b"{}")}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)


def chunked(body: bytes, _: int) -> bytes:
    data = json.dumps({"chunked": True}).encode()
    a, b = data[:5], data[5:]
    return (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n" % (len(a), a)
        + b"%x;ext=1\r\n%s\r\n" % (len(b), b)
        + b"0\r\nX-Trailer: 1\r\n\r\n"
    )


def closing(body: bytes, _: int) -> bytes:
    data = b'{"closing": true}'
    return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)


class Server:
    def __init__(self, reply: Reply, *, close_after: int | None = None, delay: float = 0.0) -> None:
        self.reply, self.close_after, self.delay = reply, close_after, delay
        self.connections = 0
        self.port = free_port()
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
                )
                body = await reader.readexactly(length)
                await asyncio.sleep(self.delay)
                writer.write(self.reply(body, served))
                await writer.drain()
                served += 1
                if b"Connection: close" in self.reply(body, served) or served == self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., object]]:
    servers: list[tuple[Server, asyncio.base_events.Server]] = []

    async def start(reply: Reply, **kwargs: object) -> Server:
        s = Server(reply, **kwargs)  # type: ignore[arg-type]
        servers.append((s, await asyncio.start_server(s.handle, "127.0.0.1", s.port)))
        return s

    yield start
    for s, srv in servers:
        srv.close()
        for writer in s.writers:  # connections still open when the test ended
            writer.close()
        await srv.wait_closed()
    await asyncio.sleep(0)


async def test_keep_alive_reuses_one_connection_and_openai_parses_replies(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(content_length)
    client = openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{server.port}/v1", api_key="k", http_client=lean_http_client(5)
    )
    for i in range(5):
        reply = await client.post("/chat/completions", body={"n": i}, cast_to=dict)
        assert reply == {"echo": {"n": i}}
    await client.close()
    assert server.connections == 1


async def test_chunked_bodies_with_extensions_and_trailers(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(chunked)
    async with httpx.AsyncClient(transport=LeanTransport()) as client:
        for _ in range(2):
            response = await client.post(f"http://127.0.0.1:{server.port}/x", content=b"{}")
            assert response.json() == {"chunked": True}
    assert server.connections == 1  # the chunked framing left the connection reusable


async def test_connection_close_and_stale_keep_alive_get_fresh_connections(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(closing)
    stale = await serve(content_length, close_after=1)  # closes each connection after one reply, silently
    async with httpx.AsyncClient(transport=LeanTransport()) as client:
        for _ in range(3):
            assert (await client.post(f"http://127.0.0.1:{server.port}/x", content=b"{}")).json() == {"closing": True}
            await asyncio.sleep(0.01)
            assert (await client.post(f"http://127.0.0.1:{stale.port}/x", content=b"{}")).status_code == 200
    assert server.connections == 3 and stale.connections == 3


async def test_errors_are_the_http_librarys_own_types(serve) -> None:  # type: ignore[no-untyped-def]
    slow = await serve(content_length, delay=2.0)
    async with httpx.AsyncClient(transport=LeanTransport(), timeout=httpx.Timeout(5.0, read=0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"http://127.0.0.1:{slow.port}/x", content=b"{}")
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{free_port()}/x", content=b"{}")


async def test_openai_client_retries_connection_errors_through_the_transport(serve) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    client = openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=3, http_client=lean_http_client(5)
    )

    late = Server(content_length)

    async def late_server() -> asyncio.base_events.Server:
        await asyncio.sleep(0.3)
        return await asyncio.start_server(late.handle, "127.0.0.1", port)

    starting = asyncio.create_task(late_server())
    reply = await client.post("/chat/completions", body={"late": 1}, cast_to=dict)
    await client.close()
    server = await starting
    server.close()
    for writer in late.writers:
        writer.close()
    await server.wait_closed()
    assert reply == {"echo": {"late": 1}}


@pytest.mark.parametrize(("kept", "opened"), [(8, 8), (4, 12)])
async def test_a_pool_sized_to_the_calls_in_flight_never_reopens_a_connection(serve, kept: int, opened: int) -> None:  # type: ignore[no-untyped-def]
    # Two waves of 8 concurrent calls: a pool that keeps 8 reuses every connection of the first wave;
    # one that keeps 4 closes 4 and opens them again (at 1024 in flight with 256 kept, that churn
    # made 12,288 calls take 2.2x the ideal time).
    server = await serve(content_length, delay=0.05)
    async with lean_http_client(5, max_connections=kept) as client:
        for _ in range(2):
            replies = await asyncio.gather(
                *(client.post(f"http://127.0.0.1:{server.port}/", json={}) for _ in range(8))
            )
            assert all(r.status_code == 200 for r in replies)
    assert server.connections == opened
