"""The LangGraph adapter: a compiled graph, SQLite checkpoints, and a human-approval interrupt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from tests.helpers import small_index
from thrifty.adapters.langgraph import build_graph, spent_fraction
from thrifty.agents.agent import Agent
from thrifty.backends import ScriptedBackend
from thrifty.budget import Ledger, Limits
from thrifty.errors import ConfigError
from thrifty.tools.web import SearchTool


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


class CountingSearch(SearchTool):
    runs = 0

    async def run(self, arguments, ctx):  # type: ignore[no-untyped-def]
        CountingSearch.runs += 1
        return await super().run(arguments, ctx)


SCRIPT = [call("search", query=["Paris"]), call("search", query=["France capital"]), "<answer>Paris</answer>"]


def agent(backend: ScriptedBackend, tmp_path: Path) -> Agent:
    return Agent(backend, tools=[CountingSearch(small_index(tmp_path))], limits="search=4,tokens=20000")


async def test_graph_runs_the_agent_and_returns_its_result(tmp_path: Path) -> None:
    graph = build_graph(agent(ScriptedBackend(SCRIPT), tmp_path), replay_dir=tmp_path / "replay")
    out = await graph.ainvoke({"question": "Capital of France?"}, {"configurable": {"thread_id": "t0"}})
    assert out["answer"] == "Paris" and out["stop_reason"] == "answered"
    assert out["result"]["usage"]["tool_units"] == {"search": 2}


async def test_approval_interrupt_pauses_and_a_new_process_resumes_from_the_sqlite_checkpoint(tmp_path: Path) -> None:
    CountingSearch.runs = 0
    db = str(tmp_path / "checkpoints.sqlite")
    config = {"configurable": {"thread_id": "job-1"}}
    backend = ScriptedBackend(SCRIPT)
    async with AsyncSqliteSaver.from_conn_string(db) as saver:
        graph = build_graph(agent(backend, tmp_path), approve_at=0.5, checkpointer=saver, replay_dir=tmp_path / "r")
        paused = await graph.ainvoke({"question": "Capital of France?"}, config)
    assert "__interrupt__" in paused  # two of four searches spent: the run waits for a human
    request = paused["__interrupt__"][0].value
    assert request["used"]["tool_units"] == {"search": 2} and "50%" in request["reason"]
    assert len(backend.requests) == 2 and CountingSearch.runs == 2

    # "Another process": a fresh saver on the same file, a fresh graph; only the approval is sent.
    async with AsyncSqliteSaver.from_conn_string(db) as saver:
        graph = build_graph(agent(backend, tmp_path), approve_at=0.5, checkpointer=saver, replay_dir=tmp_path / "r")
        done = await graph.ainvoke(Command(resume=True), config)
    assert done["answer"] == "Paris" and done["stop_reason"] == "answered"
    # The re-run node replayed the two paid steps from the cache: one new model call, no new search.
    assert len(backend.requests) == 3 and CountingSearch.runs == 2
    backend.assert_complete()
    assert done["result"]["usage"]["requests"] == 3 and done["result"]["usage"]["tool_units"] == {"search": 2}


async def test_declining_stops_with_the_best_answer_so_far(tmp_path: Path) -> None:
    config = {"configurable": {"thread_id": "job-2"}}
    backend = ScriptedBackend(SCRIPT[:2])
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.sqlite")) as saver:
        graph = build_graph(agent(backend, tmp_path), approve_at=0.5, checkpointer=saver, replay_dir=tmp_path / "r")
        await graph.ainvoke({"question": "Capital of France?"}, config)
        done = await graph.ainvoke(Command(resume=False), config)
    assert done["stop_reason"] == "cancelled"
    assert len(backend.requests) == 2  # declining costs nothing more


async def test_asking_again_on_the_same_thread_runs_afresh(tmp_path: Path) -> None:
    backend = ScriptedBackend(["<answer>first</answer>", "<answer>second</answer>"])
    config = {"configurable": {"thread_id": "same"}}
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.sqlite")) as saver:
        graph = build_graph(Agent(backend), checkpointer=saver, replay_dir=tmp_path / "r")
        one = await graph.ainvoke({"question": "Q?"}, config)
        two = await graph.ainvoke({"question": "Q?"}, config)
    assert (one["answer"], two["answer"]) == ("first", "second")  # not a replay of the first run
    backend.assert_complete()


def test_configuration_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="approve_at"):
        build_graph(agent(ScriptedBackend([]), tmp_path), approve_at=1.5)


def test_spent_fraction_ignores_wall_clock() -> None:
    ledger = Ledger(Limits(seconds=0.001, tools={"search": 4}))
    ledger.spend_tool("search", 1)
    assert spent_fraction(ledger.view()) == 0.25
