"""`thrifty chat` logic with a scripted backend and scripted keyboard input (the tmux test drives a real terminal)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from thrifty.agents.controller import LoopConfig
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.budget import parse_budget_spec
from thrifty.chat import ChatSession, command, run_chat


def session() -> ChatSession:
    return ChatSession(parse_budget_spec("tokens=5000"), "react", LoopConfig())


def drive(backend: ScriptedBackend, lines: list[str | type[BaseException]], s: ChatSession) -> str:
    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=False)
    keys = list(lines)

    def read(prompt: str) -> str:
        if not keys:
            raise EOFError
        key = keys.pop(0)
        if isinstance(key, type):
            raise key()
        return key

    with asyncio.Runner() as runner:
        assert run_chat(backend, [], s, runner, console, read=read) == 0
    return out.getvalue()


def test_turns_keep_history_and_spend() -> None:
    backend = ScriptedBackend(["<answer>Paris</answer>", "<answer>About 2.1 million</answer>"])
    s = session()
    out = drive(backend, ["Capital of France?", "And its population?", "/budget"], s)
    assert "Paris" in out and "2.1 million" in out
    follow_up: ChatRequest = backend.requests[1]
    assert "User: Capital of France?\nAssistant: Paris" in follow_up.messages[1].content  # history went along
    assert s.turns == 2 and s.spent.requests == 2
    assert "session: 2 turns" in out and "tokens=5000" in out


def test_slash_commands_change_the_next_turn() -> None:
    s = session()
    said: list[str] = []
    assert command(s, "/strategy bats", said.append) and s.strategy == "bats"
    assert command(s, "/think high", said.append) and s.config.thinking == "high"
    assert command(s, "/think default", said.append) and s.config.thinking is None
    command(s, "/think loud", said.append)
    assert "takes one of" in said[-1]
    assert command(s, "/budget search=2,tokens=900", said.append) and s.limits.tools == {"search": 2}
    s.history.append(("q", "a"))
    command(s, "/reset", said.append)
    assert s.history == []
    command(s, "/nope", said.append)
    assert "unknown command" in said[-1]
    assert command(s, "/quit", said.append) is False


def test_errors_in_commands_are_reported_and_the_session_goes_on() -> None:
    out = drive(ScriptedBackend([]), ["/strategy nonsense", "/budget tokens=-1", "/help"], session())
    assert out.count("error:") == 2 and "/reset" in out


def test_ctrl_c_at_the_prompt_does_not_end_the_session() -> None:
    out = drive(ScriptedBackend(["<answer>ok</answer>"]), [KeyboardInterrupt, "hello"], session())
    assert "/quit" in out and "ok" in out


def test_ctrl_c_during_a_turn_cancels_only_that_turn() -> None:
    async def slow(request: ChatRequest) -> str:
        await asyncio.sleep(30)
        return "<answer>late</answer>"

    import signal
    import threading

    backend = ScriptedBackend([slow, "<answer>second</answer>"])
    s = session()
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    # As a terminal's Ctrl-C does: SIGINT lands on the main thread, which is waiting in the event loop.
    timer = threading.Timer(0.5, lambda: signal.pthread_kill(main_thread, signal.SIGINT))
    timer.start()
    try:
        out = drive(backend, ["first question", "second question"], s)
    finally:
        timer.cancel()
    assert "turn cancelled" in out and "second" in out
    assert s.turns == 1 and s.history == [("second question", "second")]


@pytest.mark.parametrize("line", ["/budget", "/strategy"])
def test_show_commands(line: str) -> None:
    said: list[str] = []
    command(session(), line, said.append)
    assert said and ("per-turn budget" in said[0] or "available" in said[0])


def reader(keys: list[str]) -> Callable[[str], str]:
    def read(prompt: str) -> str:
        if not keys:
            raise EOFError
        return keys.pop(0)

    return read


def test_banner_shows_model_budget_and_thinking_and_steps_stay_on_screen(tmp_path: Path) -> None:
    from tests.helpers import small_index
    from thrifty.tools.web import BrowseTool, SearchTool

    index = small_index(tmp_path)
    search = json.dumps({"name": "search", "arguments": {"query": ["Paris"]}})
    backend = ScriptedBackend([f"<tool_code>{search}</tool_code>", "<answer>Paris</answer>"])
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    keys = ["Capital of France?"]
    with asyncio.Runner() as runner:
        run_chat(
            backend,
            [SearchTool(index), BrowseTool(index)],
            session(),
            runner,
            console,
            read=reader(keys),
        )  # type: ignore[misc]
    text = out.getvalue()
    assert "model scripted" in text and "thinking model default" in text and "None" not in text
    assert "per-turn budget: tokens=5000" in text
    assert "step 1 · model: 822→22 tok" in text and '✓ search {"query": ["Paris"]}' in text  # the steps, collapsed
    assert "step 2 · model:" in text


def test_a_cancelled_turn_counts_its_spend_and_the_session_writes_a_trace(tmp_path: Path) -> None:
    import signal
    import threading

    from tests.helpers import small_index
    from thrifty.display import trace_tree
    from thrifty.tools.web import BrowseTool, SearchTool
    from thrifty.traces import TraceWriter, read_trace

    async def slow(request: ChatRequest) -> str:
        await asyncio.sleep(30)
        return "<answer>late</answer>"

    index = small_index(tmp_path)
    search = json.dumps({"name": "search", "arguments": {"query": ["Paris"]}})
    backend = ScriptedBackend([f"<tool_code>{search}</tool_code>", slow, "<answer>second</answer>"])
    s = session()
    trace = TraceWriter(tmp_path / "chat.jsonl")
    out = io.StringIO()
    keys = ["first question", "second question"]
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    timer = threading.Timer(1.0, lambda: signal.pthread_kill(main_thread, signal.SIGINT))
    timer.start()
    try:
        with asyncio.Runner() as runner:
            run_chat(
                backend,
                [SearchTool(index), BrowseTool(index)],
                s,
                runner,
                Console(file=out, width=160, force_terminal=False),
                read=reader(keys),
                trace=trace,
            )
    finally:
        timer.cancel()
        trace.close()
    assert s.cancelled == 1 and s.turns == 1
    assert s.spent.requests == 2 and s.spent.tool("search") == 1  # the cancelled turn's call and search count
    assert "session: 2 turns (1 cancelled) | search 1" in out.getvalue()
    records = list(read_trace(tmp_path / "chat.jsonl"))
    assert next(r["question"] for r in records if r["type"] == "RunStarted") == "first question"
    assert records[-1]["type"] == "RunFinished" and records[-1]["result"]["answer"] == "second"
    view = Console(record=True, width=160)
    view.print(trace_tree(records))  # `thrifty view` of a session: one branch per turn
    tree = view.export_text()
    assert "run: 'first question'" in tree and "run: 'second question'" in tree and "finished: answered" in tree


def test_chat_escapes_control_sequences_in_answers_and_errors() -> None:
    out = drive(
        ScriptedBackend(["<answer>ok\x1b]0;title\x07\x1b[2J</answer>"]), ["hi", "/budget \x1b[2Jx=1"], session()
    )
    assert "\x1b" not in out and "\x07" not in out
    assert "ok\\x1b]0;title\\x07" in out
    said = drive(ScriptedBackend([]), ["/[bold]nope\x1b[2J"], session())
    assert "unknown command /[bold]nope\\x1b[2J" in said  # the user's text shown as typed, never as markup
