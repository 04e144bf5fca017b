"""Controller overhead per model call: thrifty vs LangGraph, smolagents, pydantic-ai and the OpenAI Agents SDK.

Every framework runs a ReAct-style agent with one tool against the same canned OpenAI-compatible
stub (``thrifty.loopback.ModelStub``: ``--steps`` tool calls, then the answer), over one of two wires:

- ``loopback``: the threaded HTTP stub on 127.0.0.1 (wall time; a round trip costs ~1 ms here);
- ``memory``: an in-memory ``MockTransport`` under each framework's own openai client (CPU time;
  no socket, so the figure is the framework plus the openai client, and no network noise).

What each framework really does is read from the wire, never from the framework: the model calls
counted are the requests the stub received, and the floor is the **same for every framework**: the
bare async openai client posting that run's recorded request bodies (``client.post``, JSON reply)
over the same wire. Frameworks are interleaved (order rotated each round) so drift hits all alike:

    overhead per call (round i) = run_i / calls_i - replay_i / calls_i

Ratios thrifty/peer compare medians measured side by side in the same run. ``thrifty+tokens``
sets a token limit, so thrifty estimates every prompt before sending it (the CLI's default budget).
Peers are benchmark-only: ``pip install langgraph langchain-openai smolagents "pydantic-ai-slim[openai]"
openai-agents``; one that is not installed is reported as NOT INSTALLED and left out.

Run: python benchmarks/overhead.py [--steps 10] [--rounds 20] [--wire both|loopback|memory] [--only thrifty,langgraph]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from thrifty.loopback import ModelStub, StubServer

Run = Callable[[], Awaitable[None]]
TOOL_DOC = "Look something up."
PEERS = {  # modules it needs, and what to pip install
    "langgraph": (("langgraph", "langchain_openai"), "langgraph langchain-openai"),
    "smolagents": (("smolagents",), "smolagents"),
    "pydantic-ai": (("pydantic_ai",), '"pydantic-ai-slim[openai]"'),
    "openai-agents": (("agents",), "openai-agents"),
}


@dataclass
class Wire:
    """Where the frameworks' requests go, and the request log read from that side of the wire."""

    steps: int
    stub: StubServer | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    model: ModelStub = field(init=False)
    """The in-memory wire's canned model (the loopback stub's, without the socket)."""

    def __post_init__(self) -> None:
        self.model = ModelStub(steps=self.steps)

    @property
    def url(self) -> str:
        return self.stub.base_url if self.stub else "http://stub.invalid/v1"

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        self.bodies.append(body)
        return httpx2.Response(200, json=self.model.reply(body))

    def http_async(self) -> httpx2.AsyncClient:
        if self.stub:
            return httpx2.AsyncClient()
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self._answer))

    def http_sync(self) -> httpx2.Client:
        return httpx2.Client() if self.stub else httpx2.Client(transport=httpx2.MockTransport(self._answer))

    def openai_async(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.url, api_key="x", max_retries=0, http_client=self.http_async())

    def take(self) -> list[dict[str, Any]]:
        """The request bodies received since the last call (the stub's own log on loopback)."""
        source = self.stub.bodies if self.stub else self.bodies
        taken = list(source)
        source.clear()
        return taken


def make_thrifty(wire: Wire, limits: str) -> Run:
    from thrifty import Agent
    from thrifty.backends import OpenAICompatBackend
    from thrifty.backends.profiles import ModelProfile
    from thrifty.tools.base import FunctionTool

    async def lookup(args: object) -> str:
        return "result"

    schema = {"type": "object", "properties": {"query": {"type": "string"}}}
    profile = ModelProfile(family="stub", tool_protocol="native")
    backend = OpenAICompatBackend(wire.url, "stub", profile=profile, client=wire.openai_async())
    agent = Agent(backend, tools=[FunctionTool("lookup", TOOL_DOC, schema, lookup)], strategy="react", limits=limits)

    async def run() -> None:
        result = await agent.run("q")
        assert result.answer == "42", result

    return run


def make_langgraph(wire: Wire) -> Run:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        return "result"

    llm = ChatOpenAI(base_url=wire.url, api_key="x", model="stub", max_retries=0, http_async_client=wire.http_async())
    graph = create_react_agent(llm, [lookup])

    async def run() -> None:
        out = await graph.ainvoke({"messages": [("user", "q")]}, {"recursion_limit": 1000})
        assert "42" in str(out["messages"][-1].content)

    return run


def make_smolagents(wire: Wire) -> Run:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool
    from smolagents.monitoring import LogLevel

    @tool
    def lookup(query: str) -> str:
        """Look something up.

        Args:
            query: what to look up.
        """
        return "result"

    model = OpenAIServerModel(
        model_id="stub", api_base=wire.url, api_key="x", client_kwargs={"http_client": wire.http_sync()}
    )

    async def run() -> None:  # a sync framework: it blocks the loop, as it would block its own thread
        agent = ToolCallingAgent(tools=[lookup], model=model, max_steps=wire.steps + 5, verbosity_level=LogLevel.OFF)
        assert "42" in str(agent.run("q"))

    return run


def make_pydantic_ai(wire: Wire) -> Run:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.usage import UsageLimits

    model = OpenAIChatModel("stub", provider=OpenAIProvider(openai_client=wire.openai_async()))
    agent = Agent(model, output_type=str)

    @agent.tool_plain
    def lookup(query: str) -> str:
        """Look something up."""
        return "result"

    limits = UsageLimits(request_limit=wire.steps + 5, tool_calls_limit=wire.steps + 5)

    async def run() -> None:
        assert "42" in (await agent.run("q", usage_limits=limits)).output

    return run


def make_openai_agents(wire: Wire) -> Run:
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)  # no trace export (it would try api.openai.com)

    @function_tool
    def lookup(query: str) -> str:
        """Look something up."""
        return "result"

    model = OpenAIChatCompletionsModel(model="stub", openai_client=wire.openai_async())
    agent = Agent(name="a", instructions="Answer.", tools=[lookup], model=model)

    async def run() -> None:
        assert "42" in str((await Runner.run(agent, "q", max_turns=wire.steps + 5)).final_output)

    return run


FRAMEWORKS: dict[str, Callable[[Wire], Run]] = {
    "thrifty": lambda w: make_thrifty(w, "lookup=1000"),
    "thrifty+tokens": lambda w: make_thrifty(w, "lookup=1000,tokens=100000000"),
    "langgraph": make_langgraph,
    "smolagents": make_smolagents,
    "pydantic-ai": make_pydantic_ai,
    "openai-agents": make_openai_agents,
}


def installed(name: str) -> bool:
    modules = PEERS[name][0] if name in PEERS else ()
    return all(importlib.util.find_spec(module) for module in modules)


@dataclass
class Tally:
    calls: list[int] = field(default_factory=list)
    run: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)

    @property
    def overhead(self) -> list[float]:
        return [r - f for r, f in zip(self.run, self.floor, strict=True)]


async def replay(client: openai.AsyncOpenAI, bodies: list[dict[str, Any]], clock: Callable[[], float]) -> float:
    """The floor: the same requests from the bare async openai client, per call."""
    started = clock()
    for body in bodies:
        await client.post("/chat/completions", body=body, cast_to=dict)
    return (clock() - started) / len(bodies)


async def measure(wire: Wire, names: list[str], rounds: int) -> dict[str, Tally]:
    clock = time.perf_counter if wire.stub else time.process_time  # loopback: wall; in memory: CPU
    runs = {name: FRAMEWORKS[name](wire) for name in names}
    floor_client = wire.openai_async()
    for run in runs.values():
        await run()  # warm-up: imports, connections, caches
    wire.take()
    tallies = {name: Tally() for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            started = clock()
            await runs[name]()
            elapsed = clock() - started
            bodies = wire.take()
            tally = tallies[name]
            tally.calls.append(len(bodies))
            tally.run.append(elapsed / len(bodies))
            tally.floor.append(await replay(floor_client, bodies, clock))
            wire.take()
    return tallies


def report(wire_name: str, tallies: dict[str, Tally]) -> None:
    unit = "wall" if wire_name == "loopback" else "CPU"
    print(f"\n{wire_name}: {unit} ms per model call (median over rounds; overhead range = min-max of rounds)")
    print(f"{'framework':15s} {'calls/run':>9s} {'run':>8s} {'floor':>7s} {'overhead':>9s}  range")
    medians = {}
    for name, t in tallies.items():
        medians[name] = statistics.median(t.overhead)
        calls = "/".join(str(c) for c in sorted(set(t.calls)))
        print(
            f"{name:15s} {calls:>9s} {statistics.median(t.run) * 1e3:8.3f} {statistics.median(t.floor) * 1e3:7.3f} "
            f"{medians[name] * 1e3:9.3f}  {min(t.overhead) * 1e3:.3f} to {max(t.overhead) * 1e3:.3f}"
        )
    for mine in ("thrifty", "thrifty+tokens"):
        if mine in medians:
            ratios = [
                f"{peer} {medians[mine] / medians[peer]:.3f}" for peer in medians if not peer.startswith("thrifty")
            ]
            print(f"{mine} / peer overhead: " + (", ".join(ratios) or "no peer ran"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="tool calls per run (then one answer call)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--wire", choices=["both", "loopback", "memory"], default="both")
    parser.add_argument("--only", default="", help="comma-separated frameworks (default: all installed)")
    args = parser.parse_args()
    wanted = args.only.split(",") if args.only else list(FRAMEWORKS)
    unknown = [n for n in wanted if n not in FRAMEWORKS]
    if unknown:
        parser.error(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
    names = [n for n in wanted if installed(n)]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}; steps/run {args.steps}, rounds {args.rounds}"
    )
    for name in wanted:
        if name not in names:
            print(f"NOT INSTALLED: {name} (pip install {PEERS[name][1]}); left out of every figure")
    if args.wire in ("both", "memory"):
        report("memory", asyncio.run(measure(Wire(args.steps), names, args.rounds)))
    if args.wire in ("both", "loopback"):
        with StubServer(steps=args.steps) as stub:
            stub.record = True
            report("loopback", asyncio.run(measure(Wire(args.steps, stub), names, args.rounds)))


if __name__ == "__main__":
    main()
