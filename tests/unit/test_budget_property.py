"""Property: whatever the model does and whatever the limits, a run never exceeds a hard limit."""

import asyncio
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import assert_within_limits, small_index
from thrifty.agents.agent import Agent
from thrifty.backends import ScriptedBackend
from thrifty.budget import Limits, ModelPrice, PriceTable
from thrifty.search.index import CorpusIndex
from thrifty.tools.web import BrowseTool, SearchTool

PRICES = PriceTable(models={"scripted": ModelPrice(input_per_mtok=1.0, output_per_mtok=4.0)})

replies = st.one_of(
    st.lists(st.sampled_from(["Paris", "capital", "France Germany", "x"]), min_size=1, max_size=6).map(
        lambda qs: "<tool_code>" + json.dumps({"name": "search", "arguments": {"query": qs}}) + "</tool_code>"
    ),
    st.just(
        '<tool_code>{"name": "browse", "arguments": {"url": ["https://en.wikipedia.org/wiki/Paris"], "goal": "g"}}</tool_code>'
    ),
    st.text(max_size=300),
    st.just("<answer>Paris</answer>"),
    st.just("word " * 400),
)
limits = st.builds(
    Limits,
    requests=st.none() | st.integers(1, 8),
    output_tokens=st.none() | st.integers(1, 2000),
    total_tokens=st.none() | st.integers(1, 12000),
    usd=st.none() | st.floats(0.0, 0.03),
    tools=st.fixed_dictionaries({"search": st.integers(0, 6), "browse": st.integers(0, 3)}),
)

_INDEX: dict[str, CorpusIndex] = {}


def _index(tmp: Path) -> CorpusIndex:
    if "i" not in _INDEX:
        _INDEX["i"] = small_index(tmp)
    return _INDEX["i"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limits=limits,
    script=st.lists(replies, min_size=1, max_size=12),
    strategy=st.sampled_from(
        ["react", "tracker", "bats", "bats-early", "sequential", "parallel", "parallel-bon", "plan-budget"]
    ),
)
def test_no_limit_is_ever_exceeded(tmp_path: Path, limits: Limits, script: list[str], strategy: str) -> None:
    index = _index(tmp_path)
    backend = ScriptedBackend(script * 40)
    agent = Agent(
        backend,
        tools=[SearchTool(index), BrowseTool(index, mode="summarize")],
        strategy=strategy,
        limits=limits,
        prices=PRICES,
    )
    result = asyncio.run(agent.run("What is the capital of France?"))
    used = result.usage
    assert result.stop_reason in ("answered", "budget_exhausted", "stalled")
    assert not any(entry.overrun for entry in result.ledger)
    assert_within_limits(used, limits, usd_tolerance=1e-12)
    if result.stop_reason == "budget_exhausted":
        assert result.exhausted
