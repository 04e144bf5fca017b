"""MCP tool-call latency (stdio and streamable HTTP on loopback) and the cost of OpenTelemetry spans.

MCP: the example server (examples/mcp_server.py) is started over stdio and over HTTP; what is timed
is the connect (process start, handshake, tool listing) and ``MCPTool.run`` of one ``multiply`` call,
the path every agent call takes (session round trip, rendering, data labelling).
OTel: a scripted run of ``--steps`` tool steps with tracing off, then with spans sent to the SDK's
in-memory exporter; the difference per span is what tracing costs when it is on.

Run:  python benchmarks/ecosystem.py [--calls 50] [--runs 100] [--steps 10]
Needs: pip install "thrifty[mcp,otel]"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thrifty.agents.agent import Agent  # noqa: E402
from thrifty.backends import ScriptedBackend  # noqa: E402
from thrifty.backends.process import free_port  # noqa: E402
from thrifty.tools.base import FunctionTool, ToolContext  # noqa: E402
from thrifty.tools.mcp import MCPServer, mcp_tools  # noqa: E402

SERVER = ROOT / "examples" / "mcp_server.py"


async def _never(request: object) -> object:
    raise AssertionError("no model call from a tool here")


async def time_mcp(target: str, calls: int) -> dict[str, float]:
    started = time.perf_counter()
    async with mcp_tools(MCPServer(target)) as tools:
        connected = time.perf_counter() - started
        [multiply] = [t for t in tools if t.spec.name == "multiply"]
        ctx = ToolContext(complete=_never)  # type: ignore[arg-type]
        await multiply.run({"a": 1, "b": 2}, ctx)  # warm
        times = []
        for i in range(calls):
            t = time.perf_counter()
            await multiply.run({"a": i, "b": 2}, ctx)
            times.append(time.perf_counter() - t)
    return {
        "connect_s": connected,
        "median_ms": 1000 * statistics.median(times),
        "p90_ms": 1000 * sorted(times)[int(0.9 * len(times))],
    }


async def _echo(arguments: object) -> str:
    return "ok"


async def one_run(steps: int, tag: str, telemetry: object) -> float:
    tool = FunctionTool("lookup", "a tool", {"type": "object", "properties": {"q": {"type": "string"}}}, _echo)  # type: ignore[arg-type]
    script = [
        "<tool_code>" + json.dumps({"name": "lookup", "arguments": {"q": f"{tag}-{i}"}}) + "</tool_code>"
        for i in range(steps)
    ]
    agent = Agent(ScriptedBackend([*script, "<answer>done</answer>"]), tools=[tool], telemetry=telemetry)  # type: ignore[arg-type]
    t = time.perf_counter()
    await agent.run("Q?")
    return time.perf_counter() - t


async def time_runs(steps: int, runs: int, telemetry: object) -> tuple[float, float]:
    """Median seconds per run with tracing off and on, interleaved (after a warm-up of each)."""
    await one_run(steps, "warm", None)
    await one_run(steps, "warm", telemetry)
    off, on = [], []
    for r in range(runs):
        off.append(await one_run(steps, f"off{r}", None))
        on.append(await one_run(steps, f"on{r}", telemetry))
    return statistics.median(off), statistics.median(on)


async def measure(args: argparse.Namespace, port: int) -> None:
    stdio = await time_mcp(f"{sys.executable} {SERVER}", args.calls)
    for _ in range(100):  # the HTTP server may still be starting
        try:
            http = await time_mcp(f"http://127.0.0.1:{port}/mcp", args.calls)
            break
        except Exception:
            await asyncio.sleep(0.2)
    print(
        f"MCP stdio: connect {stdio['connect_s']:.2f} s, call median {stdio['median_ms']:.2f} ms, p90 {stdio['p90_ms']:.2f} ms"
    )
    print(
        f"MCP HTTP:  connect {http['connect_s']:.2f} s, call median {http['median_ms']:.2f} ms, p90 {http['p90_ms']:.2f} ms"
    )

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from thrifty.agents.telemetry import Telemetry

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    off, on = await time_runs(args.steps, args.runs, Telemetry(provider))
    spans = len(exporter.get_finished_spans()) / (args.runs + 1)
    print(
        f"run of {args.steps} tool steps: off {1000 * off:.2f} ms, on {1000 * on:.2f} ms; {spans:.0f} spans per run, "
        f"{1e6 * (on - off) / spans:.0f} us per span"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        asyncio.run(measure(args, port))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
