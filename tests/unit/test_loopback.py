"""The one loopback stub module: the canned model on the threaded and the asyncio server, faults
injected in order, bodies recorded; a thrifty agent runs against it end to end."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from thrifty.loopback import ModelStub, StubServer, serve_asyncio

TOOLS = [{"type": "function", "function": {"name": "lookup"}}]


def test_the_stub_calls_a_tool_until_steps_are_done_then_answers() -> None:
    with StubServer(steps=1, faults=["503"]) as server, httpx.Client(base_url=server.base_url) as client:
        assert client.post("/chat/completions", json={"messages": []}).status_code == 503
        server.record = True
        first = client.post("/chat/completions", json={"messages": [], "tools": TOOLS}).json()
        assert first["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup"
        done = {"messages": [{"role": "tool", "content": "x"}], "tools": TOOLS}
        assert (
            client.post("/chat/completions", json=done).json()["choices"][0]["message"]["content"]
            == "<answer>42</answer>"
        )
        assert server.requests == 3 and len(server.bodies) == 2
        assert client.get("/stats").json() == {"connections": 1, "requests": 3}  # one keep-alive connection
        assert client.get("/models").json()["data"][0]["id"] == "stub"
        assert client.get("/nothing").status_code == 404


async def test_the_same_stub_serves_on_asyncio_with_its_latency() -> None:
    origins: list[str] = []
    listening = asyncio.Event()

    def announce(origin: str) -> None:
        origins.append(origin)
        listening.set()

    stub = ModelStub(steps=0, answer="Lima", model="stub-model", latency=0.2, faults=["hang"])
    task = asyncio.create_task(serve_asyncio(stub, announce=announce, on_connect=stub.connected))
    await listening.wait()
    try:
        async with httpx.AsyncClient(base_url=f"{origins[0]}/v1") as client:
            with contextlib.suppress(httpx.TimeoutException):  # the injected hang holds only its own request
                await client.post("/chat/completions", json={"messages": []}, timeout=0.3)
            started = time.monotonic()
            replies = await asyncio.gather(*(client.post("/chat/completions", json={"messages": []}) for _ in range(4)))
            waited = time.monotonic() - started
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert all(r.json()["choices"][0]["message"]["content"] == "<answer>Lima</answer>" for r in replies)
    assert replies[0].json()["model"] == "stub-model" and stub.requests == 5
    assert stub.connections >= 2  # the hung request's connection, then the client's next ones
    assert 0.2 <= waited < 0.2 * 4  # the latency is awaited, not slept: the four requests overlap
