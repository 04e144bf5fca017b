"""A newcomer's first hour, scripted: help, the README's commands, chat, a trace, an eval with a
report, and the everyday mistakes. The model is scripted and the web is a small real index; every
step fails on a traceback or a misleading message (a wrong stop reason, ``thinking None``, a
Python exception name, a silently ignored budget key, a folder created where none was asked for).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.helpers import CliRun, one_line_error, scripted_cli, small_index

EXCEPTION_NAMES = ("Traceback", "Error:", "Exception", "thinking None", "NoneType")


def clean(*texts: str) -> None:
    """Nothing a user sees may be a Python internals leak."""
    for text in texts:
        for bad in EXCEPTION_NAMES:
            assert bad not in text, (bad, text[-2000:])


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return scripted_cli(monkeypatch, tmp_path, capsys)


def test_help_version_and_every_subcommand_help(walk: CliRun) -> None:
    code, out, err = walk([], "--help")
    assert code == 0 and "ask" in out and "exit codes" in out
    clean(out, err)
    for command in (
        ["ask"],
        ["chat"],
        ["view"],
        ["eval"],
        ["serve"],
        ["tasks", "generate"],
        ["web", "serve"],
        ["index", "build"],
    ):
        code, out, err = walk([], *command, "--help")
        assert code == 0 and "usage: thrifty" in out, command
        clean(out, err)
    code, out, _ = walk([], "--version")
    assert code == 0 and out.strip().startswith("thrifty 0.")


def test_the_readme_ask_then_view_its_trace(walk: CliRun, tmp_path: Path) -> None:
    index = small_index(tmp_path).path
    search = json.dumps({"name": "search", "arguments": {"query": ["Paris"]}})
    code, out, err = walk(
        [f"<tool_code>{search}</tool_code>", "<answer>Paris</answer>"],
        "ask",
        "What is the capital of France?",
        "--index",
        str(index),
        "--tool-protocol",
        "text",
        "--budget",
        "search=10,browse=10,tokens=20000,usd=0.05,seconds=120",
        "--strategy",
        "tracker",
    )
    clean(out, err)
    assert code == 0
    assert "Paris" in out and "stop: answered" in " ".join(out.split())
    for limit in ("search", "browse", "tokens", "usd", "seconds"):  # the panel shows every limit in force
        assert f"\n{limit}" in out or f"│ {limit}" in out, limit
    assert "left: search 9/10, browse 10/10" in out
    trace = err.split("trace: ")[1].split()[0]
    code, out, err = walk([], "view", trace, "--tree")
    clean(out, err)
    assert code == 0 and "step 1" in out and "step 0" not in out and "finished: answered" in out


def test_a_tiny_budget_says_why_there_is_no_answer(walk: CliRun) -> None:
    code, out, err = walk([], "ask", "Who directed 2001: A Space Odyssey?", "--no-tools", "--budget", "tokens=100")
    clean(out, err)
    text = " ".join(out.split())
    assert code == 3
    assert "(no answer)" in text and "stop: budget_exhausted (tokens)" in text and "the next prompt alone is" in text


def test_chat_session(walk: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Capital of France?\n/budget search=2\n/budget tokns=1\n"))
    code, out, err = walk(["<answer>Paris</answer>"], "chat", "--no-tools", "--budget", "tokens=5000")
    clean(out, err)
    assert code == 0
    assert "model scripted" in out and "thinking model default" in out and "tokens=5000" in out
    assert "Paris" in out and "session: 1 turns" in out
    assert "error: budget field 'search': unknown key" in out  # --no-tools: no search to budget
    assert "did you mean 'tokens'" in out
    assert "trace: " in err


def test_tasks_then_eval_with_a_report(walk: CliRun, tmp_path: Path) -> None:
    index = small_index(tmp_path).path
    code, out, err = walk([], "tasks", "generate", "--n", "2", "--seed", "0", "-o", "tasks.jsonl")
    clean(out, err)
    assert code == 0 and "wrote 2 tasks to tasks.jsonl" in out
    code, out, err = walk(
        ["<answer>I do not know</answer>"] * 12,
        "eval",
        "tasks.jsonl",
        "--strategies",
        "react",
        "--budgets",
        "1",
        "--index",
        str(index),
        "--report-dir",
        "report",
    )
    clean(out, err)
    assert code == 0 and "| react | 1 | 2 |" in out
    assert (tmp_path / "eval-log.jsonl").is_file() and "log: eval-log.jsonl" in err  # the default log, named
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "report.html").is_file()


MISTAKES = [
    (["eval", "missing.jsonl"], ["missing.jsonl"]),
    (["eval", "notes.txt"], ["notes.txt:1", "not JSON"]),
    (["eval", "notes.txt", "--budgets", "two"], ["--budgets"]),
    (["view", "notes.txt", "--html", "no/such/folder/page.html"], ["--html"]),
    (["view", "notes.txt"], ["not a thrifty trace"]),
    (["ask", "q", "--index", "missing.sqlite"], ["--index"]),
    (["ask", "q", "--budget", "tokns=5000"], ["tokns", "did you mean 'tokens'"]),
    (["ask", "q", "--budget", "serch=1"], ["serch", "did you mean 'search'"]),
    (["ask", "q", "--strategy", "trakcer"], ["--strategy"]),
    (["ask", "q", "--thinkk", "low"], ["--thinkk", "did you mean '--think'"]),
    (["tasks", "generate", "-o", "no/such/folder/t.jsonl"], ["--output"]),
    (["tasks", "generate", "-o", "t.jsonl", "--n", "-3"], ["--n"]),
]


@pytest.mark.parametrize(("argv", "names"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_everyday_mistakes(walk: CliRun, tmp_path: Path, argv: list[str], names: list[str]) -> None:
    (tmp_path / "notes.txt").write_text("these are my notes\n")
    code, _, err = walk([], *argv)
    assert code == 2
    one_line_error(err, *names)
    assert not (tmp_path / "no").exists() and not (tmp_path / "t.jsonl").exists()
