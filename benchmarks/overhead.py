"""Controller overhead per step: thrifty vs LangGraph's prebuilt ReAct agent vs smolagents' ToolCallingAgent.

All three drive the same loopback OpenAI-compatible stub (benchmarks/stub_server.py) that returns
canned tool calls instantly, so what is measured is each framework's own work per step plus one
HTTP round trip. To isolate the framework, each framework's own request bodies are recorded by the
stub and replayed through the bare openai client (its generic ``post``; async for thrifty and
LangGraph, sync for smolagents) in the same run; that per-call time (same payload sizes, same
client, same server) is subtracted:

    overhead/step = (run wall time / model calls) - (replay time of the same bodies / calls)

Run:  python benchmarks/overhead.py [--steps 10] [--runs 20]
Peers need: pip install langgraph langchain-openai smolagents  (not thrifty dependencies)
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stub_server import StubServer


def per_call(total: float, calls: int) -> float:
    return total / calls


async def replay_async(url: str, bodies: list[dict], repeats: int = 5) -> float:
    """Per-call time to send exactly these request bodies through the bare async openai client."""
    import openai
    from openai.types.chat import ChatCompletion

    client = openai.AsyncOpenAI(base_url=url, api_key="x")
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for body in bodies:
            await client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        best = min(best, (time.perf_counter() - t) / len(bodies))
    await client.close()
    return best


def replay_sync(url: str, bodies: list[dict], repeats: int = 5) -> float:
    import openai
    from openai.types.chat import ChatCompletion

    client = openai.OpenAI(base_url=url, api_key="x")
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for body in bodies:
            client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        best = min(best, (time.perf_counter() - t) / len(bodies))
    client.close()
    return best


def make_thrifty(url: str) -> Callable[[], Awaitable[int]]:
    from thrifty import Agent
    from thrifty.backends import OpenAICompatBackend
    from thrifty.backends.profiles import ModelProfile
    from thrifty.tools.base import FunctionTool

    async def lookup(args: object) -> str:
        return "result"

    tool = FunctionTool(
        "lookup", "Look something up.", {"type": "object", "properties": {"query": {"type": "string"}}}, lookup
    )
    # httpx's default transport, as the bare-client replay uses: the subtraction measures the framework,
    # not the transport (thrifty's LeanTransport would make its side faster than the replay).
    backend = OpenAICompatBackend(
        url, "stub", profile=ModelProfile(family="stub", tool_protocol="native"), transport="httpx"
    )
    agent = Agent(backend, tools=[tool], strategy="react", limits="lookup=1000")

    async def run() -> int:
        result = await agent.run("q")
        assert result.answer == "42", result
        return result.usage.requests

    return run


def make_langgraph(url: str) -> Callable[[], Awaitable[int]]:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent  # the prebuilt ReAct agent the issue names

    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        return "result"

    graph = create_react_agent(ChatOpenAI(base_url=url, api_key="x", model="stub", max_retries=0), [lookup])

    async def run() -> int:
        out = await graph.ainvoke({"messages": [("user", "q")]}, {"recursion_limit": 1000})
        return sum(1 for m in out["messages"] if m.type == "ai")

    return run


def make_smolagents(url: str, steps: int) -> Callable[[], int]:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool
    from smolagents.monitoring import LogLevel

    @tool
    def lookup(query: str) -> str:
        """Look something up.

        Args:
            query: what to look up.
        """
        return "result"

    model = OpenAIServerModel(model_id="stub", api_base=url, api_key="x")

    def run() -> int:
        agent = ToolCallingAgent(tools=[lookup], model=model, max_steps=steps + 5, verbosity_level=LogLevel.OFF)
        answer = agent.run("q")
        assert "42" in str(answer), answer
        return steps + 1

    return run


async def bench_async(
    factory: Callable[[], Awaitable[int]], runs: int, stub: StubServer
) -> tuple[list[float], list[dict]]:
    """Per-call times of ``runs`` runs, and the request bodies of the last one (for the replay floor)."""
    await factory()  # warm-up (imports, connections)
    samples = []
    for i in range(runs):
        stub.bodies.clear()
        stub.record = i == runs - 1
        t = time.perf_counter()
        calls = await factory()
        samples.append(per_call(time.perf_counter() - t, calls))
    stub.record = False
    return samples, list(stub.bodies)


def bench_sync(factory: Callable[[], int], runs: int, stub: StubServer) -> tuple[list[float], list[dict]]:
    factory()
    samples = []
    for i in range(runs):
        stub.bodies.clear()
        stub.record = i == runs - 1
        t = time.perf_counter()
        calls = factory()
        samples.append(per_call(time.perf_counter() - t, calls))
    stub.record = False
    return samples, list(stub.bodies)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="tool-call steps per run (plus one answer step)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with StubServer(steps=args.steps) as stub:
        url = stub.base_url

        async def bench_and_replay(factory: Callable[[], Awaitable[int]]) -> tuple[list[float], float]:
            samples, bodies = await bench_async(factory, args.runs, stub)
            return samples, await replay_async(url, bodies)

        results = {
            "thrifty": asyncio.run(bench_and_replay(make_thrifty(url))),
            "langgraph": asyncio.run(bench_and_replay(make_langgraph(url))),
        }
        smol_samples, smol_bodies = bench_sync(make_smolagents(url, args.steps), args.runs, stub)
        results["smolagents"] = (smol_samples, replay_sync(url, smol_bodies))
    print(f"machine: {platform.machine()}, {platform.python_version()}, steps/run {args.steps}, runs {args.runs}")
    overhead = {}
    for name, (samples, floor) in results.items():
        med = statistics.median(samples)
        overhead[name] = max(med - floor, 1e-9)
        print(
            f"{name:11s} per step {med * 1e3:7.3f} ms  bare-client replay {floor * 1e3:6.3f} ms  "
            f"overhead {overhead[name] * 1e3:7.3f} ms"
        )
    for peer in ("langgraph", "smolagents"):
        print(f"thrifty overhead / {peer} overhead = {overhead['thrifty'] / overhead[peer]:.3f}")


if __name__ == "__main__":
    main()
