"""Where one client process's CPU per model call goes, layer by layer (issue 15.8).

    python benchmarks/client_layers.py [--calls 3000] [--concurrency 64] [--rounds 2]

Against the canned stub (benchmarks/stub_server.py, its own process, no latency), the same chat
request is sent ``--calls`` times at ``--concurrency`` in flight through each layer in turn:

- ``raw``: HTTP/1.1 on asyncio streams, no client library (the floor of any Python client here);
- ``openai``: the openai client's generic ``post`` on thrifty's lean transport, reply as bytes (what
  thrifty's backend sends through; no thrifty code but the transport);
- ``backend``: ``OpenAICompatBackend.complete`` (request body, reply parsing, the session header);
- ``caller``: ``ModelCaller`` with a ledger (a request limit: reservation, charge, event), as an agent
  step calls it.

CPU per call is this process's rusage over the layer's calls; calls/s is wall. Rounds interleave
the layers so a loaded machine's drift lands on all of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
from collections.abc import Awaitable, Callable

from eval_throughput import RAW_BODY, cpu_seconds, raw_reply, raw_request, start_stub  # this folder's script

from thrifty.agents.calls import ModelCaller
from thrifty.backends import ChatRequest, Message, OpenAICompatBackend
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import Ledger, Limits


async def measure(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> tuple[float, float]:
    """(CPU µs per call, calls per second) of ``calls`` calls at ``concurrency`` in flight."""
    left = [calls]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await call()

    cpu, wall = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    return cpu * 1e6 / calls, calls / wall


def raw_call(base_url: str) -> Callable[[], Awaitable[object]]:
    """One request per call on a pool of kept-alive asyncio stream connections."""
    host, port, data = raw_request(base_url)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call() -> object:
        reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
        writer.write(data)
        reply = await raw_reply(reader)
        idle.append((reader, writer))
        return reply

    return call


async def run(base_url: str, args: argparse.Namespace) -> dict[str, list[tuple[float, float]]]:
    backend = OpenAICompatBackend(base_url, "stub", profile=ModelProfile(family="stub", tool_protocol="native"))
    client = backend._clients[0]  # the client the backend itself posts through
    request = ChatRequest(messages=(Message("user", "q"),))
    caller = ModelCaller(backend, Ledger(Limits(requests=10**9)), lambda event: None)
    layers: dict[str, Callable[[], Awaitable[object]]] = {
        "raw": raw_call(base_url),
        "openai": lambda: client.post("/chat/completions", body=RAW_BODY, cast_to=bytes),
        "backend": lambda: backend.complete(request),
        "caller": lambda: caller(request, step=1),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in layers}
    for call in layers.values():  # warm-up: connections, imports, caches
        await measure(call, args.concurrency * 4, args.concurrency)
    for _ in range(args.rounds):
        for name, call in layers.items():
            results[name].append(await measure(call, args.calls, args.concurrency))
    await backend.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    stub, base_url = start_stub(argparse.Namespace(steps=0, latency=0.0, threaded_stub=False))
    try:
        results = asyncio.run(run(base_url, args))
    finally:
        stub.terminate()
        stub.wait()
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; {args.calls} calls x {args.rounds} rounds"
    )
    print(f"concurrency {args.concurrency}\n\n| layer | CPU us per call (median) | calls/s (median) |\n|---|---|---|")
    for name, figures in results.items():
        cpu = sorted(f[0] for f in figures)[len(figures) // 2]
        rate = sorted(f[1] for f in figures)[len(figures) // 2]
        print(f"| {name} | {cpu:.0f} | {rate:.0f} |")


if __name__ == "__main__":
    main()
