"""``thrifty ask`` and ``thrifty chat``: the agent on one question, or on a conversation."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace

from thrifty import safejson
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import EventHandler, ignore_events, tee
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import Strategy, get_strategy
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.budget import Limits, parse_budget_spec
from thrifty.budget.limits import BudgetSpecError
from thrifty.cli.mcp import offer_mcp_tools, pending_keys, with_mcp
from thrifty.errors import ConfigError
from thrifty.strategy_options import INTERACTIVE, options_for
from thrifty.tools.base import Tool

EXIT_CODES = {"answered": 0, "error": 1, "budget_exhausted": 3, "stalled": 4, "cancelled": 130}
"""The exit code of ``thrifty ask`` for each stop reason (the README's table)."""


WEB_TOOLS = ("search", "browse")
"""The tools ``ask``, ``chat`` and ``eval`` offer (budget keys are checked against them before they are built)."""


def tool_names(args: argparse.Namespace) -> list[str]:
    return [] if args.no_tools else list(WEB_TOOLS)


def tools_for(args: argparse.Namespace, *, quiet: bool = False) -> list[Tool]:
    """Search and browse over the offline web (built on first use), or nothing with ``--no-tools``."""
    if args.no_tools:
        return []
    from thrifty.search.index import CorpusIndex
    from thrifty.search.offline import default_index_path, open_default_index
    from thrifty.tools.web import BrowseTool, SearchTool

    if args.index is None and not default_index_path().is_file() and not quiet:
        print("building the offline web index (first run, about a second)…", file=sys.stderr)
    index = CorpusIndex(args.index) if args.index else open_default_index()
    return [SearchTool(index), BrowseTool(index)]


def limits_for(flag: str, spec: str | None, default: str, names: list[str]) -> Limits:
    """The default budget with the user's spec laid over it; keys are checked against the offered tools.

    The default's tool limits apply only to tools that are offered (``--no-tools`` keeps its tokens
    and seconds limits); a mistake in the spec is reported against ``flag``.
    """
    try:
        base = parse_budget_spec(default, tools=WEB_TOOLS)
    except BudgetSpecError as exc:
        raise ConfigError("budget", f"{exc} (the default budget, from the config file or $THRIFTY_BUDGET)") from None
    base = replace(base, tools={k: v for k, v in base.tools.items() if k in names})
    try:
        return parse_budget_spec(spec or "", tools=names, base=base)
    except BudgetSpecError as exc:
        raise ConfigError(flag, str(exc)) from None


def strategy_for(args: argparse.Namespace) -> Strategy:
    """The strategy with its options (the config file's, over :data:`INTERACTIVE`), checked before
    any model server starts."""
    try:
        options = options_for(args.strategy, getattr(args, "strategy_options", None), INTERACTIVE)
        return get_strategy(args.strategy, options)
    except ConfigError as exc:
        if exc.field != "strategy":  # an option: its field says which
            raise
        raise ConfigError("--strategy", str(exc).removeprefix("strategy: ")) from None


def backend_config(args: argparse.Namespace) -> BackendConfig:
    return BackendConfig(
        base_url=args.base_url,
        model=args.model,
        api_key=args.api_key,
        vllm_model=args.vllm,
        vllm_args=tuple(args.vllm_arg),
        tool_protocol=args.tool_protocol,
        session_header=args.session_header or None,
        embedded_idle=args.server_idle,
    )


def trace_writer(args: argparse.Namespace) -> EventHandler:
    """The run's (or chat session's) JSONL trace: ``--trace FILE``, else a new file in the cache."""
    if args.no_trace:
        return ignore_events
    from thrifty.paths import cache_dir
    from thrifty.traces import TraceWriter

    writer = TraceWriter(args.trace) if args.trace else TraceWriter.in_directory(cache_dir() / "traces")
    print(f"trace: {writer.path}", file=sys.stderr)
    return writer


async def _ask(args: argparse.Namespace, tools: list[Tool], limits: Limits) -> RunResult:
    config = LoopConfig(
        temperature=args.temperature,
        seed=args.seed,
        step_max_tokens=args.max_step_tokens,
        thinking=args.think,
    )
    strategy = strategy_for(args)
    trace = trace_writer(args)
    try:
        return await _ask_with(args, tools, limits, config, strategy, trace)
    finally:
        close = getattr(trace, "close", None)  # the trace file stays open when the backend fails to start
        if callable(close):
            close()


async def _ask_with(
    args: argparse.Namespace,
    tools: list[Tool],
    limits: Limits,
    config: LoopConfig,
    strategy: Strategy,
    trace: EventHandler,
) -> RunResult:
    async with offer_mcp_tools(args, tools, args.budget), open_backend(backend_config(args)) as backend:
        if args.cache is not None:
            from thrifty.replay import RecordingBackend, ReplayCache, recording_tools

            cache = ReplayCache(args.cache, args.cache_mode)
            backend, tools = RecordingBackend(backend, cache), recording_tools(tools, cache)
        agent = Agent(
            backend, tools=tools, strategy=strategy, limits=limits, config=config, prices=getattr(args, "prices", None)
        )
        if args.json:
            return await agent.run(args.question, on_event=trace)
        from rich.console import Console
        from rich.live import Live

        from thrifty.display import RunView

        view = RunView(show_thoughts=args.thoughts)
        with Live(view, console=Console(), refresh_per_second=8, transient=False):
            return await agent.run(args.question, on_event=tee(view, trace))


def ask(args: argparse.Namespace) -> int:
    names = tool_names(args)  # and, with --mcp, the keys that may name its tools (checked once connected)
    limits = limits_for("--budget", args.budget, args.default_budget, [*names, *pending_keys(args, names, args.budget)])
    strategy_for(args)
    tools = tools_for(args, quiet=args.json)
    result = asyncio.run(_ask(args, tools, limits))
    if args.json:
        print(safejson.dumps(result.to_dict(), indent=2))
    return EXIT_CODES[result.stop_reason]


def chat(args: argparse.Namespace) -> int:
    from thrifty.chat import ChatSession, chat_main

    strategy_for(args)
    names = tool_names(args)  # and, with --mcp, the keys that may name its tools (checked once connected)
    limits = limits_for("--budget", args.budget, args.default_budget, [*names, *pending_keys(args, names, args.budget)])
    tools = tools_for(args)
    config = LoopConfig(temperature=args.temperature, thinking=args.think)
    options = getattr(args, "strategy_options", {})
    offered = None if args.mcp else tuple(tool_names(args))
    session = ChatSession(limits, args.strategy, config, strategy_options=options, tool_names=offered)
    backend = with_mcp(offer_mcp_tools(args, tools, args.budget), open_backend(backend_config(args)))
    return chat_main(backend, tools, session, trace=trace_writer(args))
