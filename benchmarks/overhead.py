"""Controller overhead per step: thrifty vs LangGraph's prebuilt ReAct agent vs smolagents' ToolCallingAgent.

All three drive the same loopback OpenAI-compatible stub (benchmarks/stub_server.py) that returns
canned tool calls instantly, so what is measured is each framework's own work per step plus one
HTTP round trip. To isolate the framework, the cheapest round trip the same openai client can make
(a prebuilt one-message body through its generic ``post``; async for thrifty and LangGraph, sync for
smolagents) is measured in the same run and subtracted:

    overhead/step = (run wall time / model calls) - raw client round trip

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


BODY = {"model": "stub", "messages": [{"role": "user", "content": "q"}]}


async def raw_async(url: str, calls: int) -> float:
    """The cheapest call the openai client can make: a prebuilt body through its generic ``post``."""
    import openai
    from openai.types.chat import ChatCompletion

    client = openai.AsyncOpenAI(base_url=url, api_key="x")
    t = time.perf_counter()
    for _ in range(calls):
        await client.post("/chat/completions", body=BODY, cast_to=ChatCompletion)
    elapsed = time.perf_counter() - t
    await client.close()
    return elapsed / calls


def raw_sync(url: str, calls: int) -> float:
    import openai
    from openai.types.chat import ChatCompletion

    client = openai.OpenAI(base_url=url, api_key="x")
    t = time.perf_counter()
    for _ in range(calls):
        client.post("/chat/completions", body=BODY, cast_to=ChatCompletion)
    elapsed = time.perf_counter() - t
    client.close()
    return elapsed / calls


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
    backend = OpenAICompatBackend(url, "stub", profile=ModelProfile(family="stub", tool_protocol="native"))
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


async def bench_async(factory: Callable[[], Awaitable[int]], runs: int) -> list[float]:
    await factory()  # warm-up (imports, connections)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        calls = await factory()
        samples.append(per_call(time.perf_counter() - t, calls))
    return samples


def bench_sync(factory: Callable[[], int], runs: int) -> list[float]:
    factory()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        calls = factory()
        samples.append(per_call(time.perf_counter() - t, calls))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="tool-call steps per run (plus one answer step)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with StubServer(steps=args.steps) as stub:
        url = stub.base_url
        floor_async = min(asyncio.run(raw_async(url, 200)) for _ in range(3))
        floor_sync = min(raw_sync(url, 200) for _ in range(3))
        results = {
            "thrifty": (asyncio.run(bench_async(make_thrifty(url), args.runs)), floor_async),
            "langgraph": (asyncio.run(bench_async(make_langgraph(url), args.runs)), floor_async),
            "smolagents": (bench_sync(make_smolagents(url, args.steps), args.runs), floor_sync),
        }
    print(f"machine: {platform.machine()}, {platform.python_version()}, steps/run {args.steps}, runs {args.runs}")
    print(f"raw openai round trip: async {floor_async * 1e3:.3f} ms, sync {floor_sync * 1e3:.3f} ms")
    overhead = {}
    for name, (samples, floor) in results.items():
        med = statistics.median(samples)
        overhead[name] = max(med - floor, 1e-9)
        print(f"{name:11s} per step {med * 1e3:7.3f} ms  overhead {overhead[name] * 1e3:7.3f} ms")
    for peer in ("langgraph", "smolagents"):
        print(f"thrifty overhead / {peer} overhead = {overhead['thrifty'] / overhead[peer]:.3f}")


if __name__ == "__main__":
    main()
