"""Accuracy, tokens, tool calls and unified cost per strategy at several budgets, on the offline
task set, with the embedded model (or any endpoint via --base-url).

Run: python benchmarks/strategies.py [--tasks N] [--strategies ...] [--budgets 2,6] [--log PATH]
The log is resumable (rerun the same command to continue); the Markdown report goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
from dataclasses import replace
from importlib import resources
from itertools import islice
from pathlib import Path

from thrifty.agents.controller import LoopConfig
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.budget import parse_budget_spec
from thrifty.evals.log import read_log
from thrifty.evals.report import markdown, summarize
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import read_tasks
from thrifty.search.offline import open_default_index
from thrifty.tools.web import BrowseTool, SearchTool


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--strategies", default="react,tracker,bats,sequential,plan-budget")
    parser.add_argument("--budgets", default="2,6")
    parser.add_argument("--extra", default="tokens=24000,seconds=300")
    parser.add_argument("--log", type=Path, default=Path("benchmarks/strategies-log.jsonl"))
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--base-url")
    args = parser.parse_args()
    sample = resources.files("thrifty.evals").joinpath("data/sample_tasks.jsonl")
    with resources.as_file(sample) as path:
        tasks = list(islice(read_tasks(path), args.tasks))
    extra = parse_budget_spec(args.extra)
    conditions = [
        Condition(s, b, replace(extra, tools={"search": int(b), "browse": int(b)}))
        for b in args.budgets.split(",")
        for s in args.strategies.split(",")
    ]
    index = open_default_index()
    tools = [SearchTool(index), BrowseTool(index)]
    started = time.monotonic()

    async def run() -> None:
        async with open_backend(BackendConfig(base_url=args.base_url)) as backend:
            await run_eval(
                tasks,
                conditions,
                backends=[backend],
                tools=tools,
                log_path=args.log,
                concurrency=args.concurrency,
                config=LoopConfig(temperature=0.0, seed=0),
                on_sample=lambda s, p: print(
                    f"{p.done + p.skipped}/{p.total} {s.strategy}@{s.budget} "
                    f"{s.task_id}: {s.correct} ({s.stop_reason})",
                    flush=True,
                ),
            )

    asyncio.run(run())
    print(f"\nmachine: {platform.machine()}, Python {platform.python_version()}; {time.monotonic() - started:.0f} s")
    print(markdown(summarize(s for s in read_log(args.log) if s.task_id in {t.id for t in tasks})))


if __name__ == "__main__":
    main()
