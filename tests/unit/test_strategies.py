"""BATS, sequential and parallel scaling: each decision asserted on scripted runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.strategies import BatsStrategy, ParallelStrategy, SequentialStrategy
from thrifty.agents.strategies.bats import parse_verdict
from thrifty.agents.strategies.judging import majority, normalize, parse_choice
from thrifty.agents.strategies.scaling import split_limits
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.budget import Limits, Regime
from thrifty.tools.web import BrowseTool, SearchTool


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


def verdict(decision: str, summary: str = "tried X", details: object = None) -> str:
    return json.dumps(
        {
            "verification": "v",
            "decision": decision,
            "justification": f"because {decision}",
            "trajectory_summary": summary,
            "details": details or {},
        }
    )


@pytest.fixture
def web(tmp_path: Path) -> list:
    index = small_index(tmp_path)
    return [SearchTool(index), BrowseTool(index, mode="summarize")]


def test_verdict_parsing_and_fallbacks() -> None:
    v = parse_verdict("noise " + verdict("pivot", "S", {"advice": "try B"}) + " tail", Regime.HIGH)
    assert (v.decision, v.summary, v.parsed) == ("PIVOT", "S", True)
    assert json.loads(v.details) == {"advice": "try B"}
    assert parse_verdict("no json here", Regime.HIGH).decision == "CONTINUE"
    assert parse_verdict('{"decision": "MAYBE"}', Regime.LOW).decision == "PIVOT"


def test_votes_and_choices() -> None:
    assert normalize("The  Eiffel Tower!") == "eiffel tower"
    assert majority(["Paris", "paris.", "Lyon", "None"]) == ("Paris", False)
    assert majority(["X", "Y"])[1] is True
    assert majority(["None", ""]) == (None, False)
    assert parse_choice("Justification: ...\nAnswer: \\boxed{B}", 3) == 1
    assert parse_choice("Answer: \\boxed{Z}", 3) is None


async def test_bats_pivot_replaces_the_trajectory_with_the_summary(web: list) -> None:
    backend = ScriptedBackend(
        [
            call("search", query=["capital of Peru"]),
            "<answer>Lyon</answer>",
            verdict("PIVOT", summary="SUMMARY-ONE: searched Peru, found nothing"),
            "<answer>Lima</answer>",
            verdict("SUCCESS", summary="confirmed"),
        ]
    )
    result = await Agent(backend, tools=web, strategy=BatsStrategy(early_stop=True), limits="search=5,browse=5").run(
        "q?"
    )
    assert (result.answer, result.stop_reason) == ("Lima", "answered")
    second_attempt = backend.requests[3]
    assert [m.role for m in second_attempt.messages] == ["system", "user"]  # no raw trajectory carried over
    assert "SUMMARY-ONE" in second_attempt.messages[1].content
    assert "Verifier decision: PIVOT" in second_attempt.messages[1].content
    assert "## About planning" in second_attempt.messages[0].content  # the planning module is on
    assert "Current Answer" in backend.requests[2].messages[0].content  # the verifier prompt
    assert result.candidates == ("Lyon", "Lima")
    backend.assert_complete()


async def test_bats_main_mode_spends_the_budget_then_judges(web: list) -> None:
    def judge_b(request: ChatRequest) -> str:
        text = request.messages[0].content
        assert "Option A: Paris" in text and "Option B: Lima" in text
        return "Justification: B fits.\nAnswer: \\boxed{B}"

    backend = ScriptedBackend(
        [
            call("search", query=["one"]),
            "<answer>Paris</answer>",
            verdict("SUCCESS"),
            call("search", query=["two"]),
            "<answer>Lima</answer>",
            verdict("SUCCESS"),
            call("search", query=["three"]),
            "<answer>Lima</answer>",  # forced final of attempt 3: the search budget is spent, so no verification
            judge_b,
        ]
    )
    result = await Agent(backend, tools=web, strategy="bats", limits="search=3,browse=2").run("q?")
    assert result.answer == "Lima"
    assert result.usage.tool("search") == 3
    assert result.stop_reason == "answered" and result.exhausted == "tool:search"
    assert any("judge chose option 1 of 2" in n for n in result.notes)
    backend.assert_complete()


async def test_sequential_scaling_nudges_while_budget_remains(web: list) -> None:
    backend = ScriptedBackend(
        [
            "<answer>Paris</answer>",
            call("search", query=["capital of France"]),
            "<answer>Paris</answer>",
            call("search", query=["Paris capital"]),
            "<answer>Paris!</answer>",  # search budget now spent: accepted
        ]
    )
    result = await Agent(backend, tools=web, strategy=SequentialStrategy(), limits="search=2,browse=1").run("q")
    assert result.answer == "Paris!"
    assert "Wait, you still have remaining tool budget" in backend.requests[1].messages[-1].content
    assert result.usage.tool("search") == 2


async def test_sequential_scaling_stops_after_five_refusals(web: list) -> None:
    backend = ScriptedBackend([f"<answer>A{i}</answer>" for i in range(6)])
    result = await Agent(backend, tools=web, strategy=SequentialStrategy(), limits="search=9").run("q")
    assert result.answer == "A4"
    assert result.usage.requests == 5


async def test_parallel_majority_with_split_budgets(web: list) -> None:
    answers = {0: "Paris", 1: "paris", 2: "Lyon"}

    def by_seed(request: ChatRequest) -> str:
        if "Tally the Votes" in request.messages[0].content:  # BATS C.4: the judge counts the votes
            return "Answer: \\boxed{B}"
        assert request.temperature == 0.7
        return f"<answer>{answers[request.seed]}</answer>"  # type: ignore[index]

    backend = ScriptedBackend([by_seed] * 4)
    agent = Agent(
        backend, tools=web, strategy=ParallelStrategy(n=3), limits="search=9,tokens=30000", config=LoopConfig(seed=0)
    )
    result = await agent.run("q")
    assert result.answer == "paris"  # the judge's pick (option B), not a string count
    assert sorted(result.candidates) == ["Lyon", "Paris", "paris"]
    assert result.usage.requests == 4 and result.usage.total_tokens <= 30000
    # thrifty's cheaper option: a normalised string vote, no judge unless tied.
    backend = ScriptedBackend([by_seed] * 3)
    strategy = ParallelStrategy(n=3, vote="string")
    result = await Agent(backend, tools=web, strategy=strategy, limits="search=9", config=LoopConfig(seed=0)).run("q")
    assert result.answer == "Paris" and result.usage.requests == 3
    assert split_limits(Limits(total_tokens=30000, tools={"search": 9}), 3).total_tokens == 10000


async def test_parallel_best_of_n_asks_the_judge(web: list) -> None:
    def reply(request: ChatRequest) -> str:
        if "expert evaluator" in request.messages[0].content:
            return "Answer: \\boxed{B}"
        return "<answer>" + ("X" if request.seed == 0 else "Y") + "</answer>"

    backend = ScriptedBackend([reply] * 3)
    agent = Agent(
        backend,
        tools=web,
        strategy=ParallelStrategy(n=2, aggregate="best_of_n"),
        limits="search=4",
        config=LoopConfig(seed=0),
    )
    result = await agent.run("q")
    assert result.answer == "Y"
    assert any("judge (best_of_n) chose 1" in n for n in result.notes)
