"""Accuracy vs token budget for greedy, self-consistency, best-of-N, PF and ePF on the offline math set.

Each budget level N is a sample/particle count with a token cap of N × --tokens-per-sample; every
method runs under the same cap (greedy ignores N). The PRM is the LLM judge on the same model.
The embedded model by default, any OpenAI-compatible endpoint with --base-url.

Run: python benchmarks/particles.py [--tasks 8] [--budgets 2,4] [--log PATH] [--out DIR]
The log is resumable (rerun the same command to continue); the Markdown report goes to stdout, and
the report with plots to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
from pathlib import Path

from thrifty.agents.particles import (
    BestOfNStrategy,
    FilterSettings,
    GreedyStrategy,
    ParticleFilterStrategy,
    SelfConsistencyStrategy,
    StepSettings,
    epf_settings,
)
from thrifty.agents.strategies import Strategy
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.budget import Limits
from thrifty.evals.log import EvalLog, load_log
from thrifty.evals.math_tasks import generate_math
from thrifty.evals.report import markdown, summarize
from thrifty.evals.runner import Condition, run_eval
from thrifty.viewer.report import write_report

METHODS = ("greedy", "self-consistency", "best-of-n", "pf", "epf")


def method(name: str, n: int, max_steps: int) -> Strategy:
    step = StepSettings(max_tokens=128)
    if name == "greedy":
        return GreedyStrategy(max_tokens=512)
    if name == "self-consistency":
        return SelfConsistencyStrategy(n, max_tokens=512)
    if name == "best-of-n":
        return BestOfNStrategy(n, max_tokens=512)
    if name == "pf":
        return ParticleFilterStrategy(FilterSettings(particles=n, max_steps=max_steps, step=step), name="pf")
    return ParticleFilterStrategy(epf_settings(n, max_steps=max_steps, step=step), name="epf")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--budgets", default="2,4", help="sample / particle counts")
    parser.add_argument("--tokens-per-sample", type=int, default=5000)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--log", type=Path, default=Path("benchmarks/particles-log.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/particles"))
    parser.add_argument("--base-url")
    args = parser.parse_args()
    tasks = generate_math(args.tasks, args.seed)
    conditions = [
        Condition(method(m, int(n), args.max_steps), n, Limits(total_tokens=int(n) * args.tokens_per_sample))
        for n in args.budgets.split(",")
        for m in args.methods.split(",")
    ]
    started = time.monotonic()

    async def run() -> None:
        async with open_backend(BackendConfig(base_url=args.base_url)) as backend:
            await run_eval(
                tasks,
                conditions,
                backends=[backend],
                tools=[],
                log_path=args.log,
                concurrency=1,
                on_sample=lambda s, p: print(
                    f"{p.done + p.skipped}/{p.total} {s.strategy}@{s.budget} "
                    f"{s.task_id}: {s.answer!r} vs {s.target} {s.correct} "
                    f"({s.stop_reason}, {s.usage['input_tokens'] + s.usage['output_tokens']} tok, "
                    f"{s.seconds:.0f} s)",
                    flush=True,
                ),
            )

    asyncio.run(run())
    ids = {t.id for t in tasks}
    log = load_log(args.log)
    ours = EvalLog(log.headers, [s for s in log.samples if s.task_id in ids])
    rows = summarize(ours.samples)
    print(f"\nmachine: {platform.machine()}, Python {platform.python_version()}; {time.monotonic() - started:.0f} s")
    print(markdown(rows))
    title = "Particle filtering vs baselines on the offline math set"
    write_report(rows, args.out, title=title, log=ours, log_folder=args.log.parent)


if __name__ == "__main__":
    main()
