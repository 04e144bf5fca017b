"""The README's Python snippets run as written (model: scripted; web: a small real index), every
``thrifty …`` command it shows parses, and the library's sync edge works from plain sync code.

The same snippets against the real embedded model: tests/integration/test_readme_live.py.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import thrifty
from tests.helpers import README, python_snippets, small_index
from thrifty import Agent, open_backend, open_backend_sync
from thrifty.backends import ScriptedBackend
from thrifty.backends.base import Backend
from thrifty.cli.parser import build_parser


def shell_commands() -> list[str]:
    """Each ``thrifty …`` command line in the README's bash blocks (continuations joined, comments cut)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0] == "thrifty":
                    commands.append(words[1:])
    return [shlex.join(c) for c in commands]


@pytest.fixture
def scripted_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[ScriptedBackend]:
    """``open_backend``/``open_backend_sync``/``open_default_index`` as the snippets import them, made offline."""
    index = small_index(tmp_path)
    opened: list[ScriptedBackend] = []

    def backend() -> ScriptedBackend:
        opened.append(ScriptedBackend(["<answer>Santiago</answer>"] * 3))
        return opened[-1]

    @contextlib.asynccontextmanager
    async def async_open(config: object = None) -> AsyncIterator[Backend]:
        yield backend()

    @contextlib.contextmanager
    def sync_open(config: object = None) -> Iterator[Backend]:
        yield backend()

    monkeypatch.setattr(thrifty, "open_backend", async_open)
    monkeypatch.setattr(thrifty, "open_backend_sync", sync_open)
    monkeypatch.setattr("thrifty.search.offline.open_default_index", lambda path=None: index)
    return opened


@pytest.mark.parametrize("snippet", python_snippets(), ids=lambda s: s.splitlines()[1][:40])
def test_readme_python_snippet_runs(
    snippet: str, scripted_library: list[ScriptedBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(snippet, str(README), "exec"), {"__name__": "__main__"})
    assert scripted_library and scripted_library[0].requests  # the snippet asked the model
    assert "Santiago" in capsys.readouterr().out


def test_the_readme_has_the_sync_and_async_snippets() -> None:
    snippets = python_snippets()
    assert any("open_backend_sync()" in s and "run_sync(" in s for s in snippets)
    assert any("async with open_backend()" in s for s in snippets)


@pytest.mark.parametrize("command", shell_commands())
def test_every_readme_command_parses(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for made in (
        "tasks.jsonl",
        "math.jsonl",
        "run.jsonl",
        "runs.jsonl",
        "baseline.jsonl",
        "pages.jsonl",
        "mine.sqlite",
    ):
        (tmp_path / made).write_text("{}\n")
    args = build_parser().parse_args(shlex.split(command))  # a bad flag would exit 2 here
    assert args.command


def test_agent_refuses_a_non_backend_in_one_line() -> None:
    with pytest.raises(TypeError) as info:
        Agent(open_backend())  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "async with open_backend()" in message and "open_backend_sync()" in message
    with pytest.raises(TypeError, match="Agent needs a backend"):
        Agent("http://localhost:8000/v1")  # type: ignore[arg-type]


def test_open_backend_sync_serves_many_sync_runs_from_one_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend lives on its own loop; each run_sync (a fresh loop) reaches it there."""
    import asyncio

    loops: list[asyncio.AbstractEventLoop] = []

    async def answer(request: object) -> str:
        loops.append(asyncio.get_running_loop())
        return "<answer>ok</answer>"

    inner = ScriptedBackend([answer, answer])
    closed: list[bool] = []

    @contextlib.asynccontextmanager
    async def fake_open(config: object = None) -> AsyncIterator[Backend]:
        yield inner
        closed.append(True)

    monkeypatch.setattr("thrifty.backends.sync.open_backend", fake_open)
    with open_backend_sync() as backend:
        agent = Agent(backend, limits="tokens=5000")
        first, second = agent.run_sync("one?"), agent.run_sync("two?")
        assert not closed
    assert (first.answer, second.answer) == ("ok", "ok")
    assert len(loops) == 2 and loops[0] is loops[1]  # both calls ran on the backend's own loop
    assert closed == [True]
