"""``thrifty chat``: an interactive terminal agent with history, a live budget panel and slash commands.

One event loop (``asyncio.Runner``) lives for the whole session, so the model server and its
client survive between turns. Ctrl-C during a turn cancels that turn only: ``Runner.run`` cancels
the running task and the session goes on. Each turn gets a fresh ledger with the current limits;
the session's total spend is kept alongside.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import EventHandler, ignore_events, tee
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import Strategy, get_strategy, strategy_names
from thrifty.backends.base import Backend
from thrifty.budget import Limits, Usage, parse_budget_spec
from thrifty.budget.limits import BudgetSpecError
from thrifty.display import RunView, limits_text, print_result, safe, tools_text
from thrifty.errors import ThriftyError
from thrifty.strategy_options import INTERACTIVE, options_for
from thrifty.terminal import escape_controls
from thrifty.tools.base import Tool

HELP = """commands:
  /budget [SPEC]     show the session's spend and the per-turn limits, or change them: KEY=VALUE adds or
                     changes a limit (search=3,tokens=20000), KEY=none lifts one
  /strategy [NAME]   show or set the strategy
  /think MODE        thinking dial: none | low | medium | high | auto | default
  /reset             forget the conversation so far
  /help              this text
  /quit              leave (Ctrl-D too); Ctrl-C cancels the current turn only"""

THINK_MODES = ("none", "low", "medium", "high", "auto")


@dataclass
class ChatSession:
    """What persists between turns: settings, the conversation and the session's spend."""

    limits: Limits
    strategy: str
    config: LoopConfig
    strategy_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options by strategy name (the config file's), over :data:`~thrifty.strategy_options.INTERACTIVE`."""
    tool_names: tuple[str, ...] | None = None
    """The tools offered, against which ``/budget`` keys are checked (None: the tools :func:`run_chat`
    is given, known only once MCP servers are connected)."""
    history: list[tuple[str, str]] = field(default_factory=list)
    spent: Usage = field(default_factory=Usage)
    turns: int = 0
    cancelled: int = 0

    def build_strategy(self, name: str) -> Strategy:
        return get_strategy(name, options_for(name, self.strategy_options, INTERACTIVE))

    def question(self, text: str, keep: int = 6) -> str:
        """The question sent to the agent: recent turns first, so follow-ups can refer to them."""
        if not self.history:
            return text
        past = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in self.history[-keep:])
        return f"Conversation so far:\n{past}\n\nNew question: {text}"

    def record(self, text: str, result: RunResult) -> None:
        self.turns += 1
        self.spent = self.spent + result.usage
        if result.answer is not None:
            self.history.append((text, result.answer))

    def record_cancelled(self, used: Usage) -> None:
        """A cancelled turn still spent what it spent before Ctrl-C."""
        self.cancelled += 1
        self.spent = self.spent + used


def command(session: ChatSession, line: str, say: Callable[[str], None]) -> bool:
    """Apply a slash command; return False to end the session."""
    name, _, arg = line[1:].strip().partition(" ")
    arg = arg.strip()
    if name in ("quit", "exit"):
        return False
    if name == "help":
        say(HELP)
    elif name == "reset":
        session.history.clear()
        say("conversation cleared")
    elif name == "budget":
        if arg:
            session.limits = parse_budget_spec(arg, tools=session.tool_names, base=session.limits)
        say(budget_summary(session))
    elif name == "strategy":
        if arg:
            session.build_strategy(arg)  # validates, naming the field on error
            session.strategy = arg
        say(f"strategy: {session.strategy} (available: {', '.join(strategy_names())})")
    elif name == "think":
        if arg not in (*THINK_MODES, "default"):
            say(f"/think takes one of {', '.join(THINK_MODES)}, default")
        else:
            mode = None if arg == "default" else arg
            session.config = replace(session.config, thinking=mode)  # type: ignore[arg-type]
            say(f"thinking: {arg}")
    else:
        say(f"unknown command /{name}; /help lists them")
    return True


def session_line(session: ChatSession) -> str:
    u = session.spent
    cancelled = f" ({session.cancelled} cancelled)" if session.cancelled else ""
    return (
        f"session: {session.turns + session.cancelled} turns{cancelled} | {tools_text(u)} | "
        f"{u.input_tokens:,} in / {u.output_tokens:,} out tokens | ${u.cost_usd:.4f}"
    )


def budget_summary(session: ChatSession) -> str:
    return (
        f"per-turn budget: {limits_text(session.limits)} (KEY=VALUE adds or changes, KEY=none lifts)\n"
        + session_line(session)
    )


def banner(session: ChatSession, model: str) -> Text:
    thinking = session.config.thinking or "model default"
    return Text(
        f"model {model} · strategy {session.strategy} · thinking {thinking}\n"
        f"per-turn budget: {limits_text(session.limits)}",
        style="dim",
    )


def _turn(
    agent: Agent, session: ChatSession, line: str, runner: asyncio.Runner, console: Console, trace: EventHandler
) -> RunResult | None:
    """One question; None when Ctrl-C cancelled it (its spend is still counted)."""
    view = RunView()
    ledger = agent.new_ledger()
    try:
        with Live(view, console=console, refresh_per_second=8, transient=True):
            result = runner.run(agent.run(session.question(line), ledger=ledger, on_event=tee(view, trace)))
    except KeyboardInterrupt:
        session.record_cancelled(ledger.used)
        console.print(view.collapsed())
        console.print("[yellow](turn cancelled; its spend is counted; the session goes on)[/yellow]")
        return None
    console.print(view.collapsed())
    return result


def run_chat(
    backend: Backend,
    tools: list[Tool],
    session: ChatSession,
    runner: asyncio.Runner,
    console: Console,
    read: Callable[[str], str] = input,
    trace: EventHandler = ignore_events,
) -> int:
    """The read-eval loop. Returns the exit code."""
    if session.tool_names is None:
        session.tool_names = tuple(t.spec.name for t in tools)
    console.print("[bold]thrifty chat[/bold] — /help for commands, Ctrl-C cancels a turn, Ctrl-D leaves")
    console.print(banner(session, backend.model))
    while True:
        try:
            line = read("you> ").strip()
        except EOFError:
            console.print()
            return 0
        except KeyboardInterrupt:
            console.print("\n(type /quit or press Ctrl-D to leave)")
            continue
        if not line:
            continue
        if line.startswith("/"):
            try:
                if not command(session, line, lambda text: console.print(safe(text))):
                    return 0
            except (ThriftyError, BudgetSpecError) as exc:
                console.print(Text.assemble(("error: ", "red"), escape_controls(str(exc))))
            continue
        strategy = session.build_strategy(session.strategy)
        agent = Agent(backend, tools=tools, strategy=strategy, limits=session.limits, config=session.config)
        result = _turn(agent, session, line, runner, console, trace)
        if result is not None:
            session.record(line, result)
            print_result(console, result)
        console.print(Text(session_line(session), style="dim"))


def chat_main(
    open_backend_cm: contextlib.AbstractAsyncContextManager[Backend],
    tools: list[Tool],
    session: ChatSession,
    trace: EventHandler = ignore_events,
) -> int:
    """Open the backend once on a session-long loop, then chat."""
    console = Console()
    with asyncio.Runner() as runner:
        stack = contextlib.AsyncExitStack()
        backend = runner.run(stack.enter_async_context(open_backend_cm))
        try:
            return run_chat(backend, tools, session, runner, console, trace=trace)
        finally:
            runner.run(stack.aclose())
            close = getattr(trace, "close", None)
            if close is not None:
                close()
