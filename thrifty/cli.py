"""The ``thrifty`` command. Parses strings into typed configs and hands them to the library.

``main(argv) -> int`` returns an exit code so tests call it without subprocesses.
Subcommands: ``ask`` (one question, live view), ``serve`` (run the embedded model server),
``index build`` (build the offline web index), ``web serve`` (the offline web over loopback HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from thrifty import safejson
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import EventHandler, ignore_events, tee
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import get_strategy, strategy_names
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.budget import Limits, parse_budget_spec
from thrifty.budget.limits import BudgetSpecError
from thrifty.errors import ConfigError, ThriftyError
from thrifty.settings import DEFAULT_BUDGET, load_settings
from thrifty.tools.base import Tool

_FROM_SETTINGS = ("base_url", "model", "api_key", "strategy", "budget", "tool_protocol", "temperature")
"""Flags whose default comes from the config file / environment (see thrifty.settings)."""


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend (default: the embedded CPU model)")
    g.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM)")
    g.add_argument(
        "--model",
        help="served model name (default: the server's first model); without --base-url, the embedded model "
        "to run: qwen2.5-coder-1.5b-instruct (default) or qwen2.5-coder-0.5b-instruct (short: 1.5b, 0.5b)",
    )
    g.add_argument("--api-key", help="API key for --base-url (or set OPENAI_API_KEY)")
    g.add_argument("--vllm", metavar="MODEL", help="spawn `vllm serve MODEL` (needs thrifty[vllm])")
    g.add_argument("--vllm-arg", action="append", default=[], help="extra argument for vllm serve (repeatable)")
    g.add_argument(
        "--tool-protocol",
        choices=["native", "text", "json"],
        help="how tool calls travel (default: from the model profile; the embedded model uses json)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thrifty", description="Budget-aware LLM agents.")
    parser.add_argument("--config", type=Path, help="settings file (default: ~/.config/thrifty/config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question with tools, within a budget")
    ask.add_argument("question")
    ask.add_argument("--budget", help=f"limits, e.g. {DEFAULT_BUDGET!r} (the default)")
    ask.add_argument("--strategy", metavar="NAME",
                     help=f"one of {', '.join(strategy_names())}; pf, epf, best-of-n and self-consistency take "
                          "a count, e.g. epf:8")  # fmt: skip
    ask.add_argument("--json", action="store_true", help="print the result as JSON (no live view)")
    ask.add_argument("--no-tools", action="store_true", help="answer from the model alone")
    ask.add_argument("--index", type=Path, help="offline web index (default: built on first use)")
    ask.add_argument("--temperature", type=float)
    ask.add_argument("--seed", type=int, default=0)
    ask.add_argument("--max-step-tokens", type=int, default=LoopConfig().step_max_tokens)
    ask.add_argument("--thoughts", action="store_true", help="show the model's text in the live view")
    ask.add_argument(
        "--think",
        choices=["none", "low", "medium", "high", "auto"],
        help="thinking dial, mapped to the model family's mechanism (auto: chosen per question)",
    )
    ask.add_argument("--trace", type=Path, help="write the run's JSONL trace here (default: a new file in the cache)")
    ask.add_argument("--no-trace", action="store_true", help="write no trace")
    ask.add_argument("--cache", type=Path, help="record/replay cache of model and tool calls (SQLite file)")
    ask.add_argument("--cache-mode", choices=["auto", "record", "replay"], default="auto",
                     help="replay: every call must come from the cache (exact offline re-run)")  # fmt: skip
    _add_backend_args(ask)

    chat = sub.add_parser("chat", help="interactive agent: history, live budget, slash commands (/help)")
    chat.add_argument("--budget", help="per-turn limits (change with /budget)")
    chat.add_argument("--strategy", metavar="NAME", help="as for ask (change with /strategy)")
    chat.add_argument("--think", choices=["none", "low", "medium", "high", "auto"])
    chat.add_argument("--no-tools", action="store_true", help="answer from the model alone")
    chat.add_argument("--index", type=Path, help="offline web index (default: built on first use)")
    chat.add_argument("--temperature", type=float)
    _add_backend_args(chat)

    view = sub.add_parser("view", help="render a run trace (a tree in the terminal, or --html)")
    view.add_argument("trace", type=Path)
    view.add_argument("--html", type=Path, help="write a static HTML page instead")

    serve = sub.add_parser("serve", help="run the embedded model server until Ctrl-C")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--context", type=int, default=32768)
    serve.add_argument("--parallel", type=int, default=4)
    serve.add_argument("--model", help="embedded model: qwen2.5-coder-1.5b-instruct (default) or 0.5b")

    tasks = sub.add_parser("tasks", help="offline task sets")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True)
    gen = tasks_sub.add_parser("generate", help="synthesize verifiable questions over the offline corpus")
    gen.add_argument("--n", type=int, default=300)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("-o", "--output", type=Path, required=True)
    gen.add_argument(
        "--kind",
        choices=["web", "math"],
        default="web",
        help="web: multi-hop questions over the offline corpus; math: multi-step word problems",
    )

    ev = sub.add_parser("eval", help="batch evaluation: strategies x budgets over a task file")
    ev.add_argument("tasks", type=Path, help="tasks: thrifty JSONL, a GAIA folder, a BrowseComp or SimpleQA CSV")
    ev.add_argument("--format", choices=["jsonl", "gaia", "browsecomp", "simpleqa"], help="default: from the path")
    ev.add_argument("--strategies", default="react,tracker")
    ev.add_argument("--budgets", default="3,10", help="tool units per tool (search and browse), comma-separated")
    ev.add_argument("--extra-budget", default="", help="limits added to every condition, e.g. tokens=30000")
    ev.add_argument("--log", type=Path, default=Path("eval-log.jsonl"), help="append-only log; rerun to resume")
    ev.add_argument("--report-dir", type=Path, help="write report.md, report.html and plots (needs thrifty[evals])")
    ev.add_argument("--limit", type=int, help="only the first N tasks")
    ev.add_argument("--concurrency", type=int, default=2)
    ev.add_argument("--index", type=Path)
    ev.add_argument("--temperature", type=float)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--endpoint", action="append", default=[], metavar="URL",
                    help="an OpenAI-compatible server serving --model; repeat to share the load over several "
                         "(each sample goes to the least busy one)")  # fmt: skip
    _add_backend_args(ev)

    web = sub.add_parser("web", help="the offline web over loopback HTTP")
    web_sub = web.add_subparsers(dest="web_command", required=True)
    web_serve = web_sub.add_parser("serve", help="serve corpus pages as HTML (+ SearXNG-style /search)")
    web_serve.add_argument("--port", type=int, default=8765)
    web_serve.add_argument("--index", type=Path, help="index file (default: the built-in corpus)")

    index = sub.add_parser("index", help="offline web index")
    index_sub = index.add_subparsers(dest="index_command", required=True)
    build = index_sub.add_parser("build", help="build the default corpus index (or one from your files)")
    build.add_argument("--path", type=Path, help="where to write the index (default: the user cache)")
    build.add_argument("--jsonl", type=Path, help="a JSONL corpus of {url, title, text} objects")
    build.add_argument("--folder", type=Path, help="a folder of .md/.txt/.html files")
    return parser


def _tools(args: argparse.Namespace) -> list[Tool]:
    if args.no_tools:
        return []
    from thrifty.search.index import CorpusIndex
    from thrifty.search.offline import default_index_path, open_default_index
    from thrifty.tools.web import BrowseTool, SearchTool

    if args.index is None and not default_index_path().is_file() and not args.json:
        print("building the offline web index (first run, about a second)…", file=sys.stderr)
    index = CorpusIndex(args.index) if args.index else open_default_index()
    return [SearchTool(index), BrowseTool(index)]


def _backend_config(args: argparse.Namespace) -> BackendConfig:
    return BackendConfig(
        base_url=args.base_url,
        model=args.model,
        api_key=args.api_key,
        vllm_model=args.vllm,
        vllm_args=tuple(args.vllm_arg),
        tool_protocol=args.tool_protocol,
    )


async def _ask(args: argparse.Namespace, limits: Limits) -> RunResult:
    backend_config = _backend_config(args)
    config = LoopConfig(
        temperature=args.temperature, seed=args.seed, step_max_tokens=args.max_step_tokens, thinking=args.think
    )
    tools = _tools(args)
    strategy = get_strategy(args.strategy)  # a bad name fails before a model server starts
    trace = _trace_writer(args)
    async with open_backend(backend_config) as backend:
        if args.cache is not None:
            from thrifty.replay import RecordingBackend, ReplayCache, recording_tools

            cache = ReplayCache(args.cache, args.cache_mode)
            backend, tools = RecordingBackend(backend, cache), recording_tools(tools, cache)
        agent = Agent(backend, tools=tools, strategy=strategy, limits=limits, config=config)
        if args.json:
            return await agent.run(args.question, on_event=trace)
        from rich.console import Console
        from rich.live import Live

        from thrifty.display import RunView

        view = RunView(show_thoughts=args.thoughts)
        console = Console(stderr=False)
        with Live(view, console=console, refresh_per_second=8, transient=False):
            return await agent.run(args.question, on_event=tee(view, trace))


def _trace_writer(args: argparse.Namespace) -> EventHandler:
    if args.no_trace:
        return ignore_events
    from thrifty.paths import cache_dir
    from thrifty.traces import TraceWriter

    writer = TraceWriter(args.trace) if args.trace else TraceWriter.in_directory(cache_dir() / "traces")
    print(f"trace: {writer.path}", file=sys.stderr)
    return writer


def _chat(args: argparse.Namespace) -> int:
    from thrifty.chat import ChatSession, chat_main

    get_strategy(args.strategy)
    session = ChatSession(parse_budget_spec(args.budget), args.strategy,
                          LoopConfig(temperature=args.temperature, thinking=args.think))  # fmt: skip
    args.json = False
    return chat_main(open_backend(_backend_config(args)), _tools(args), session)


def _view(args: argparse.Namespace) -> int:
    from thrifty.traces import read_trace, trace_html

    if not args.trace.is_file():
        raise ConfigError("trace", f"no such file: {args.trace}")
    records = list(read_trace(args.trace))
    if args.html:
        args.html.write_text(trace_html(records, title=f"thrifty trace {args.trace.name}"), encoding="utf-8")
        print(f"wrote {args.html}")
        return 0
    from rich.console import Console

    from thrifty.display import trace_tree

    Console().print(trace_tree(records))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from thrifty.backends.embedded import embedded_model, llama_server

    spec = embedded_model(args.model)

    async def run() -> None:
        async with llama_server(model=spec, port=args.port, context=args.context, parallel=args.parallel) as server:
            print(f"embedded model serving at {server.base_url} (Ctrl-C to stop)", flush=True)
            await asyncio.Event().wait()  # until Ctrl-C cancels the run

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _web(args: argparse.Namespace) -> int:
    import time

    from thrifty.search.index import CorpusIndex
    from thrifty.search.offline import open_default_index
    from thrifty.search.web_server import CorpusWebServer

    index = CorpusIndex(args.index) if args.index else open_default_index()
    with CorpusWebServer(index, port=args.port) as server, contextlib.suppress(KeyboardInterrupt):
        print(f"offline web at {server.base_url}/en.wikipedia.org/wiki/Paris · search: {server.base_url}/search?q=…")
        while True:
            time.sleep(3600)
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from thrifty.evals.math_tasks import generate_math
    from thrifty.evals.tasks import generate, write_tasks

    tasks = generate_math(args.n, args.seed) if args.kind == "math" else generate(args.n, args.seed)
    write_tasks(tasks, args.output)
    print(f"wrote {len(tasks)} tasks to {args.output}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from itertools import islice

    from rich.console import Console

    from thrifty.evals.datasets import load
    from thrifty.evals.identity import hash_file
    from thrifty.evals.log import SampleLog, load_log
    from thrifty.evals.report import markdown, summarize
    from thrifty.evals.runner import Condition, Progress, run_eval

    tasks = list(islice(load(args.tasks, args.format), args.limit))
    extra = parse_budget_spec(args.extra_budget)
    conditions: list[Condition] = []
    for budget in (int(b) for b in args.budgets.split(",") if b.strip()):
        limits = replace(extra, tools={**extra.tools, "search": budget, "browse": budget})
        conditions.extend(Condition(s.strip(), f"{budget}", limits) for s in args.strategies.split(",") if s.strip())
    args.no_tools = False
    args.json = True
    tools = _tools(args)
    config = LoopConfig(temperature=args.temperature, seed=args.seed)

    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    bar = Bar(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
              TimeRemainingColumn(), console=Console(stderr=True))  # fmt: skip
    bar_task = bar.add_task("eval", total=len(tasks) * len(conditions), stats="")

    def progress(sample: SampleLog, p: Progress) -> None:
        stats = f"accuracy {p.accuracy:.2f} · ${p.cost_usd:.4f} · {p.tokens:,} tokens"
        bar.update(bar_task, completed=p.done + p.skipped, stats=stats)

    configs = [replace(_backend_config(args), base_url=url) for url in args.endpoint] or [_backend_config(args)]

    async def run() -> Progress:
        async with contextlib.AsyncExitStack() as stack:
            backends = [await stack.enter_async_context(open_backend(c)) for c in configs]
            return await run_eval(tasks, conditions, backends=backends, tools=tools, log_path=args.log,
                                  concurrency=args.concurrency, config=config, on_sample=progress,
                                  tasks_sha256=hash_file(args.tasks))  # fmt: skip

    with bar:
        done = asyncio.run(run())
    log = load_log(args.log)
    if log.skipped:
        print(f"warning: skipped {log.skipped} unreadable line(s) in {args.log}", file=sys.stderr)
    if done.errors:
        print(f"{done.errors} sample(s) errored (logged with their error; rerun to retry them)", file=sys.stderr)
    rows = summarize(log.samples, runs=done.runs)
    print(markdown(rows))
    if args.report_dir:
        from thrifty.evals.plots import write_report

        for path in write_report(rows, args.report_dir):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _index(args: argparse.Namespace) -> int:
    from thrifty.search.corpus import corpus_version, folder_pages, jsonl_pages
    from thrifty.search.index import build_index
    from thrifty.search.offline import build_default_index, default_index_path

    if args.jsonl or args.folder:
        if not args.path:
            raise BudgetSpecError("--path", "a custom corpus needs --path for its index")
        pages = jsonl_pages(args.jsonl) if args.jsonl else folder_pages(args.folder)
        stats = build_index(args.path, pages, version=f"user+{corpus_version()}")
    else:
        stats = build_default_index(args.path or default_index_path())
    print(f"indexed {stats.pages:,} pages into {stats.path} in {stats.seconds:.2f}s")
    return 0


def _apply_settings(args: argparse.Namespace) -> None:
    """Fill flags the user did not give from the config file and ``THRIFTY_*`` variables."""
    settings = load_settings(args.config)
    for name in _FROM_SETTINGS:
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, getattr(settings, name))
    if hasattr(args, "no_trace") and not settings.trace and args.trace is None:
        args.no_trace = True


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _apply_settings(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "index":
            return _index(args)
        if args.command == "web":
            return _web(args)
        if args.command == "tasks":
            return _tasks(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "view":
            return _view(args)
        if args.command == "chat":
            return _chat(args)
        limits = parse_budget_spec(args.budget)
        result = asyncio.run(_ask(args, limits))
    except BudgetSpecError as exc:
        print(f"thrifty: error: --budget: {exc}", file=sys.stderr)
        return 2
    except ThriftyError as exc:
        print(f"thrifty: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("thrifty: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(safejson.scrub(result.to_dict()), indent=2, ensure_ascii=False))
    return 0 if result.stop_reason in ("answered", "budget_exhausted", "stalled") else 1


if __name__ == "__main__":
    raise SystemExit(main())
