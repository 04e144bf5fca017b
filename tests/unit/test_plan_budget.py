"""Plan-and-Budget: schedules, parsing, allocation into child ledgers, synthesis; the E³ metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.strategies.plan_budget import PlanAndBudgetStrategy, parse_credits, parse_subquestions
from thrifty.agents.strategies.schedules import SCHEDULES, allocate, schedule_weight
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.evals.metrics import cost_per_correct, e3
from thrifty.tools.web import SearchTool


@given(
    total=st.integers(0, 100_000),
    credits=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=6),
    schedule=st.sampled_from(SCHEDULES),
)
def test_schedules_sum_to_the_budget(total: int, credits: list[float], schedule: str) -> None:
    parts = allocate(total, credits, schedule)  # type: ignore[arg-type]
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)


def test_schedule_shapes_match_the_official_code() -> None:
    assert [schedule_weight("linear", i, 3) for i in range(3)] == [3, 2, 1]
    assert [schedule_weight("polynomial", i, 3) for i in range(3)] == [9, 4, 1]
    assert schedule_weight("exponential", 2, 3) == pytest.approx(0.81)
    assert [round(schedule_weight("cosine", i, 3), 3) for i in range(3)] == [1.1, 0.6, 0.1]
    assert schedule_weight("cosine", 0, 1) == 1.0
    assert allocate(100, [1, 1, 1], "constant") == [34, 33, 33]
    front = allocate(1000, [1, 1, 1], "polynomial")
    assert front[0] > front[1] > front[2]


def test_parsing_plans_and_credits() -> None:
    official = "1. Find X.\nHint: look it up.\n2. Use X to get Y.\nHint: combine.\n"
    assert parse_subquestions(official) == ["1. Find X. (Hint: look it up.)", "2. Use X to get Y. (Hint: combine.)"]
    assert parse_subquestions("1) first\n2) second") == ["1. first", "2. second"]
    assert parse_subquestions("no list at all") == ["1. Directly solve the problem."]
    credits, level = parse_credits(
        json.dumps({"problem": {"evaluated_level": 4}, "1": {"credit": 70}, "2": {"credit": 30}}), 2
    )
    assert (credits, level) == ([70.0, 30.0], 4)
    assert parse_credits("garbage", 3) == ([1.0, 1.0, 1.0], 3)


async def test_plan_and_budget_solves_each_subquestion_in_its_own_child_ledger(tmp_path: Path) -> None:
    def decompose(r: ChatRequest) -> str:
        assert "break down" in r.messages[0].content
        return "1. Which country is Paris the capital of?\nHint: search.\n2. What is that country's capital?\nHint: answer."

    backend = ScriptedBackend(
        [
            decompose,
            json.dumps({"problem": {"evaluated_level": 2}, "1": {"credit": 60}, "2": {"credit": 40}}),
            "<answer>France</answer>",
            "<answer>Paris</answer>",
            lambda r: "<answer>Paris</answer>" if "Answer: France" in r.messages[0].content else "<answer>?</answer>",
        ]
    )
    agent = Agent(
        backend,
        tools=[SearchTool(small_index(tmp_path))],
        strategy=PlanAndBudgetStrategy(schedule="linear", hard_caps=True),
        limits="tokens=20000,search=4",
    )
    result = await agent.run("What is the capital of the country whose capital is Paris?")
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    allocation = next(n for n in result.notes if n.startswith("level 2"))
    assert "schedule linear" in allocation
    sub_ledgers = {e.ledger for e in result.ledger}
    assert {"run/sub1", "run/sub2"} <= sub_ledgers
    assert result.usage.total_tokens <= 20000
    assert "Overall problem" in backend.requests[2].messages[1].content
    backend.assert_complete()


def test_e3_and_cost_per_correct() -> None:
    assert e3(0.5, 1000) == pytest.approx(0.00025)
    assert e3(50, 5000) == pytest.approx(0.5)  # the paper's apparent scale: accuracy in percent
    with pytest.raises(ValueError):
        e3(1, 0)
    assert cost_per_correct(1.0, 4) == 0.25
    assert cost_per_correct(1.0, 0) == float("inf")
