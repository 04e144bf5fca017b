"""``thrifty eval``: strategies x budgets over a task file, an append-only log, a report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from itertools import islice
from typing import TYPE_CHECKING

from thrifty.agents.controller import LoopConfig
from thrifty.agents.strategies import get_strategy
from thrifty.backends.registry import open_backend
from thrifty.budget import parse_budget_spec
from thrifty.budget.limits import BudgetSpecError
from thrifty.cli.mcp import offer_mcp_tools, pending_keys
from thrifty.cli.run import WEB_TOOLS, backend_config, tools_for
from thrifty.errors import ConfigError

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress

    from thrifty.evals.executors import Executor
    from thrifty.evals.log import SampleLog
    from thrifty.evals.runner import Condition, Progress
    from thrifty.evals.tasks import Task


def _tasks(args: argparse.Namespace) -> list[Task]:
    from thrifty.evals.datasets import load

    try:
        return list(islice(load(args.tasks, args.format), args.limit))
    except ConfigError as exc:
        raise ConfigError("tasks", str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("tasks", f"cannot read {args.tasks}: {exc}") from None


def _conditions(args: argparse.Namespace, tool_names: list[str]) -> list[Condition]:
    from thrifty.evals.runner import Condition

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    for name in strategies:
        try:
            get_strategy(name)
        except ConfigError as exc:
            raise ConfigError("--strategies", str(exc).removeprefix("strategy: ")) from None
    try:
        extra = parse_budget_spec(args.extra_budget, tools=tool_names)
    except BudgetSpecError as exc:
        raise ConfigError("--extra-budget", str(exc)) from None
    conditions: list[Condition] = []
    for budget in args.budgets:
        limits = replace(extra, tools={**extra.tools, "search": budget, "browse": budget})
        conditions.extend(Condition(s, f"{budget}", limits) for s in strategies)
    return conditions


def _title(args: argparse.Namespace, model: str) -> str:
    return (
        f"thrifty evaluation: {args.tasks.name} · model {model} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def _progress_bar(total: int) -> tuple[RichProgress, Callable[[SampleLog, Progress], None]]:
    """The bar on stderr and the runner's callback that moves it (accuracy, spend, time left so far)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        console=Console(stderr=True),
    )
    bar_task = bar.add_task("eval", total=total, stats="")

    def progress(sample: SampleLog, p: Progress) -> None:
        left = p.eta_seconds
        eta = "" if left is None else f" · about {left / 60:.0f} min left" if left >= 90 else f" · {left:.0f} s left"
        stats = f"accuracy {p.accuracy:.2f} · ${p.cost_usd:.4f} · {p.tokens:,} tokens{eta}"
        bar.update(bar_task, completed=p.done + p.skipped, stats=stats)

    return bar, progress


def _report(args: argparse.Namespace, done: Progress, models: list[str]) -> None:
    from thrifty.evals.log import load_log
    from thrifty.evals.report import markdown, summarize

    log = load_log(args.log)
    if log.skipped:
        print(f"warning: skipped {log.skipped} unreadable line(s) in {args.log}", file=sys.stderr)
    if done.errors:
        print(f"{done.errors} sample(s) errored (logged with their error; rerun to retry them)", file=sys.stderr)
    if done.lost.attempts or done.lost.workers:
        lost = done.lost
        print(
            f"{lost.workers} Ray worker(s) lost; {lost.attempts} attempt(s) ran again elsewhere, having spent at "
            f"least {lost.tokens:,} tokens and ${lost.cost_usd:.4f} (not in the log)",
            file=sys.stderr,
        )
    rows = summarize(log.samples, runs=done.runs)
    print(markdown(rows))
    print(f"log: {args.log}", file=sys.stderr)
    if args.report_dir:
        from thrifty.evals.log import EvalLog
        from thrifty.viewer.report import write_report

        ours = EvalLog(
            {k: h for k, h in log.headers.items() if k in done.runs}, [s for s in log.samples if s.run in done.runs]
        )
        title = _title(args, ", ".join(sorted(set(models))))
        for path in write_report(rows, args.report_dir, title=title, log=ours, log_folder=args.log.parent):
            print(f"wrote {path}", file=sys.stderr)


def _executor(args: argparse.Namespace) -> Executor | None:
    """``--ray ADDRESS``: the samples run on a Ray cluster, where each worker builds the web tools itself
    (the index must exist on every node; MCP sessions cannot travel)."""
    if not args.ray:
        return None
    if args.mcp:
        raise ConfigError("--ray", "--mcp tools cannot be used with --ray (their sessions live in this process)")
    from thrifty.evals.ray_executor import RayExecutor, load_ray

    load_ray()  # a missing extra fails here, before any server starts
    recipe = functools.partial(tools_for, argparse.Namespace(no_tools=False, index=args.index), quiet=True)
    return RayExecutor(address=args.ray, tools=recipe)


def evaluate(args: argparse.Namespace) -> int:
    from thrifty.evals.identity import hash_file
    from thrifty.evals.runner import run_eval

    conditions = _conditions(args, [*WEB_TOOLS, *pending_keys(args, WEB_TOOLS, args.extra_budget)])
    tasks = _tasks(args)
    args.no_tools = False
    tools = tools_for(args, quiet=True)
    config = LoopConfig(temperature=args.temperature, seed=args.seed)
    bar, progress = _progress_bar(len(tasks) * len(conditions))
    # Connections kept open per server: every sample in flight keeps its own, none is reopened.
    pooled = replace(backend_config(args), max_connections=max(args.concurrency, 1024))
    configs = [replace(pooled, base_url=url) for url in args.endpoint] or [pooled]
    executor = _executor(args)
    models: list[str] = []

    async def run() -> Progress:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(offer_mcp_tools(args, tools, args.extra_budget, flag="--extra-budget"))
            backends = [await stack.enter_async_context(open_backend(c)) for c in configs]
            models.extend(b.model for b in backends)
            return await run_eval(
                tasks,
                conditions,
                backends=backends,
                tools=tools,
                log_path=args.log,
                concurrency=args.concurrency,
                traces=not args.no_trace,
                config=config,
                prices=getattr(args, "prices", None),
                on_sample=progress,
                tasks_sha256=hash_file(args.tasks),
                executor=executor,
                tasks_file=args.tasks.name,
            )

    with bar:
        done = asyncio.run(run())
    _report(args, done, models)
    return 0
