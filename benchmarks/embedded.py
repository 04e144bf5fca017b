"""Embedded model throughput: server start, prefill and generation tokens/s (1 and 4 concurrent).

Run: python benchmarks/embedded.py   (needs thrifty[local]; starts its own llama-server)
Numbers come from the server's own usage counts; wall time is measured around each request.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time

from thrifty.backends import ChatRequest, Message, OpenAICompatBackend
from thrifty.backends.embedded import DEFAULT_MODEL, llama_server
from thrifty.backends.profiles import EMBEDDED_PROFILE

PROMPT = " ".join(f"Item {i}: the quick brown fox jumps over the lazy dog." for i in range(30))


async def timed(backend: OpenAICompatBackend, request: ChatRequest) -> tuple[float, int, int]:
    t = time.perf_counter()
    c = await backend.complete(request)
    return time.perf_counter() - t, c.usage.input_tokens, c.usage.output_tokens


async def main() -> None:
    t0 = time.perf_counter()
    async with llama_server(context=32768, parallel=4) as server:
        ready = time.perf_counter() - t0
        backend = OpenAICompatBackend(server.base_url, DEFAULT_MODEL.name, profile=EMBEDDED_PROFILE)
        gen = ChatRequest(
            messages=(Message("user", "Count upwards from 1, one number per line."),),
            max_tokens=128,
            temperature=0.0,
            extra_body={"ignore_eos": True},
        )
        await timed(backend, gen)  # warm-up
        results = {}
        for n in (1, 4):
            prefill = [
                ChatRequest(
                    messages=(Message("user", f"[{n}-{i}-{time.time()}] {PROMPT}"),), max_tokens=1, temperature=0.0
                )
                for i in range(n)
            ]
            t = time.perf_counter()
            pre = await asyncio.gather(*(timed(backend, r) for r in prefill))
            pre_wall = time.perf_counter() - t
            t = time.perf_counter()
            out = await asyncio.gather(*(timed(backend, gen) for _ in range(n)))
            gen_wall = time.perf_counter() - t
            results[n] = (sum(p[1] for p in pre) / pre_wall, sum(o[2] for o in out) / gen_wall, pre[0][1])
        await backend.aclose()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus; model {DEFAULT_MODEL.filename}")
    print(f"server ready (incl. model verify): {ready:.2f} s")
    for n, (pre, gen_tps, ptoks) in results.items():
        print(
            f"concurrency {n}: prefill {pre:.0f} tok/s ({ptoks}-token prompts), generation {gen_tps:.1f} tok/s aggregate"
        )


if __name__ == "__main__":
    asyncio.run(main())
