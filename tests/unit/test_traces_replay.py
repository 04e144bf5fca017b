"""Traces (write, read after a kill, render) and record/replay (exact offline re-runs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.particles import SelfConsistencyStrategy
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.backends.base import Completion, Message
from thrifty.cli import main
from thrifty.display import trace_tree
from thrifty.errors import ConfigError
from thrifty.replay import RecordingBackend, ReplayCache, recording_tools
from thrifty.tools.base import OneUnitTool, ToolContext, ToolResult
from thrifty.tools.web import SearchTool
from thrifty.traces import TraceFolder, TraceWriter, read_trace
from thrifty.viewer.build import build


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


def script() -> list[str]:
    return [call("search", query=["capital of France"]), "<answer>Paris</answer>"]


async def test_trace_records_prompts_tool_io_and_ledger(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    agent = Agent(ScriptedBackend(script()), tools=[SearchTool(small_index(tmp_path))], limits="search=3")
    result = await agent.run("Capital of France?", on_event=TraceWriter(path))
    records = list(read_trace(path))
    types = [r["type"] for r in records]
    assert types[0] == "TraceStarted" and types[1] == "RunStarted" and types[-1] == "RunFinished"
    assert {"StepStarted", "ModelCalled", "ToolCalled", "BudgetCharged"} <= set(types)
    model = next(r for r in records if r["type"] == "ModelCalled")
    assert model["request"]["messages"][1]["content"] == "Capital of France?"  # the prompt itself
    tool = next(r for r in records if r["type"] == "ToolCalled")
    assert tool["call"]["name"] == "search" and "Paris" in tool["output"]
    charges = [r["entry"] for r in records if r["type"] == "BudgetCharged"]
    assert sum(c["usage"]["requests"] for c in charges) == result.usage.requests
    assert records[-1]["result"]["answer"] == "Paris"

    # A kill mid-write leaves a torn line: reading skips it and keeps everything before.
    with path.open("a") as f:
        f.write('{"type": "ModelCal')
    assert len(list(read_trace(path))) == len(records)

    page = build([path])
    assert "<li class='step'>" in page and "Capital of France?" in page and "src=" not in page
    console = Console(record=True, width=160)
    console.print(trace_tree(records))
    text = console.export_text()
    assert "step 1" in text and "tool search" in text and "finished: answered" in text


async def test_a_trace_folder_observer_writes_one_file_per_run(tmp_path: Path) -> None:
    agent = Agent(
        ScriptedBackend(["<answer>a</answer>", "<answer>b</answer>"]), observers=[TraceFolder(tmp_path / "traces")]
    )
    await agent.run("one?")
    await agent.run("two?")
    files = sorted((tmp_path / "traces").glob("*.jsonl"))
    assert len(files) == 2
    assert {list(read_trace(f))[-1]["result"]["answer"] for f in files} == {"a", "b"}


async def test_view_command_renders_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.jsonl"
    await Agent(ScriptedBackend(["<answer>42</answer>"])).run("Q?", on_event=TraceWriter(path))
    assert main(["view", str(path), "--tree"]) == 0
    assert "finished: answered" in capsys.readouterr().out
    assert main(["view", str(path), "--html", str(tmp_path / "t.html")]) == 0
    assert "answer" in (tmp_path / "t.html").read_text()
    assert main(["view", str(tmp_path / "missing.jsonl")]) == 2


class SummarizingTool(OneUnitTool):
    """A tool that calls the model through its context (as browse does for goal-directed summaries)."""

    def __init__(self) -> None:
        from thrifty.backends.base import ToolSpec

        self.runs = 0
        self._spec = ToolSpec("digest", "Digest a topic.", {"type": "object", "properties": {"topic": {}}})

    async def run(self, arguments: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        self.runs += 1
        summary = await ctx.complete(ChatRequest(messages=(Message("user", f"summarize {arguments['topic']}"),)))
        return ToolResult(f"digest: {summary.text}")


class Offline:
    """A backend that must never be reached (replay has to answer everything)."""

    model = "scripted"
    tool_protocol = "text"

    @property
    def profile(self) -> Any:
        return ScriptedBackend().profile

    async def complete(self, request: ChatRequest) -> Completion:
        raise AssertionError("the model was called during a strict replay")

    async def count_tokens(self, request: ChatRequest) -> Any:
        raise AssertionError("the model was counted during a strict replay")

    async def aclose(self) -> None:
        pass


async def test_record_then_replay_offline_reproduces_the_run(tmp_path: Path) -> None:
    steps = [
        call("digest", topic="Paris"),
        "Paris is the capital.",
        call("search", query=["Paris"]),
        "<answer>Paris</answer>",
    ]
    db = tmp_path / "cache.sqlite"
    index = small_index(tmp_path)
    cache = ReplayCache(db, "record")
    digest = SummarizingTool()
    recorded = await Agent(
        RecordingBackend(ScriptedBackend(steps), cache),
        tools=recording_tools([digest, SearchTool(index)], cache),
        limits="tokens=5000,digest=2,search=2",
    ).run("Capital of France?")
    cache.close()
    assert recorded.answer == "Paris" and digest.runs == 1

    cache = ReplayCache(db, "replay")
    replay_digest = SummarizingTool()
    replayed = await Agent(
        RecordingBackend(Offline(), cache),  # type: ignore[arg-type]
        tools=recording_tools([replay_digest, SearchTool(index)], cache),
        limits="tokens=5000,digest=2,search=2",
    ).run("Capital of France?")
    assert replay_digest.runs == 0  # the tool's output came from the cache
    assert replayed.answer == recorded.answer and replayed.stop_reason == recorded.stop_reason
    assert replayed.usage == recorded.usage  # the summary call inside the tool is charged again

    def calls(result: Any) -> list[tuple[str, str]]:
        return [(c["name"], c["output"]) for step in result.steps for c in step.tool_calls]

    assert calls(replayed) == calls(recorded) and len(calls(recorded)) == 2
    assert cache.misses == 0 and cache.hits > 0

    # A run that diverges from the recording fails loudly instead of calling out.
    diverged = await Agent(RecordingBackend(Offline(), ReplayCache(db, "replay"))).run("Another question?")  # type: ignore[arg-type]
    assert diverged.stop_reason == "error" and "not in the replay cache" in (diverged.error or "")


async def test_identical_sampling_requests_replay_in_order(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    answers = iter(["\\boxed{1}", "\\boxed{2}", "\\boxed{2}"])
    cache = ReplayCache(db, "auto")
    first = await Agent(
        RecordingBackend(ScriptedBackend([lambda r: next(answers)] * 3), cache), strategy=SelfConsistencyStrategy(3)
    ).run("Q?")
    replayed = await Agent(
        RecordingBackend(Offline(), ReplayCache(db, "replay")),  # type: ignore[arg-type]
        strategy=SelfConsistencyStrategy(3),
    ).run("Q?")
    assert first.answer == replayed.answer == "2"
    assert sorted(first.candidates) == sorted(replayed.candidates) == ["1", "2"]


def test_replay_configuration_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cache"):
        ReplayCache(tmp_path / "none.sqlite", "replay")
    with pytest.raises(ConfigError, match="mode"):
        ReplayCache(tmp_path / "x.sqlite", "sometimes")  # type: ignore[arg-type]
