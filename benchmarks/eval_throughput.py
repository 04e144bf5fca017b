"""Batch runner throughput: wall time vs the ideal bound against a fixed-latency loopback stub.

    ideal = samples × model calls per sample × latency / concurrency

Run: python benchmarks/eval_throughput.py [--samples 256] [--concurrency 64] [--latency 1.0] [--steps 2]
The stub (benchmarks/stub_server.py, in its own process) answers every request after ``latency`` seconds with canned
native tool calls (``steps`` tool calls, then the answer), so each sample makes steps + 1 calls.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thrifty.backends import OpenAICompatBackend
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import Limits
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import generate
from thrifty.tools.base import FunctionTool


async def lookup(arguments: object) -> str:
    return "result"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    tasks = generate(args.samples, seed=0)
    tool = FunctionTool(
        "lookup", "Look something up.", {"type": "object", "properties": {"query": {"type": "string"}}}, lookup
    )
    calls = args.steps + 1
    ideal = args.samples * calls * args.latency / args.concurrency
    stub = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("stub_server.py")), "--steps", str(args.steps),
         "--latency", str(args.latency)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert stub.stdout is not None
    base_url = stub.stdout.readline().strip()
    backend = OpenAICompatBackend(base_url, "stub", profile=ModelProfile(family="stub", tool_protocol="native"))

    async def run(log_path: Path) -> float:
        started = time.perf_counter()
        progress = await run_eval(tasks, [Condition("react", "-", Limits(tools={"lookup": 100}))], backends=[backend],
                                  tools=[tool], log_path=log_path, concurrency=args.concurrency)  # fmt: skip
        elapsed = time.perf_counter() - started
        await backend.aclose()
        assert progress.done == args.samples
        return elapsed

    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall = asyncio.run(run(Path(tmp) / "log.jsonl"))
    finally:
        stub.terminate()
        stub.wait()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"samples {args.samples}, concurrency {args.concurrency}, latency {args.latency}s, calls/sample {calls}")
    print(f"ideal bound {ideal:.2f} s; runner wall time {wall:.2f} s; ratio {wall / ideal:.3f}")


if __name__ == "__main__":
    main()
