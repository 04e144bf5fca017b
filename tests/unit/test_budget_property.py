"""Property: whatever the model does, whatever the limits and whichever strategy, a run never
exceeds a hard limit (exact pre-call counts: the scripted backend counts as it bills).

Every limit kind is generated (requests, input, output and total tokens, dollars, seconds, units per
tool) with every registered strategy. ``THRIFTY_PROPERTY_RUNS`` sets the number of runs (default
1,000); ``benchmarks/RESULTS.md`` records the figure and the command.
"""

import asyncio
import json
import os
import random
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import assert_within_limits, small_index
from thrifty.agents.agent import Agent
from thrifty.agents.strategies import strategy_names
from thrifty.backends import ScriptedBackend
from thrifty.backends.base import ChatRequest
from thrifty.budget import Limits, ModelPrice, PriceTable
from thrifty.search.index import CorpusIndex
from thrifty.tools.web import BrowseTool, SearchTool

RUNS = int(os.environ.get("THRIFTY_PROPERTY_RUNS", "1000"))
SECONDS_SLACK = 1.0
"""With a seconds limit some replies hang for 30 s: a wait that did not honour the deadline would
overrun by about that much. The slack only absorbs scheduling on 2 shared cores (other processes can
stall this one for a few hundred ms); the largest excess seen is printed and recorded in RESULTS.md."""
PRICES = PriceTable(models={"scripted": ModelPrice(input_per_mtok=1.0, output_per_mtok=4.0)})

replies = st.one_of(
    st.lists(st.sampled_from(["Paris", "capital", "France Germany", "x"]), min_size=1, max_size=6).map(
        lambda qs: "<tool_code>" + json.dumps({"name": "search", "arguments": {"query": qs}}) + "</tool_code>"
    ),
    st.just(
        '<tool_code>{"name": "browse", "arguments": {"url": ["https://en.wikipedia.org/wiki/Paris"], "goal": "g"}}</tool_code>'
    ),
    st.text(max_size=200),
    st.just("<answer>Paris</answer>"),
    st.just("Step one.\n\nStep two: 2 + 2 = 4.\n\nThe answer is \\boxed{4}."),
    st.just("word " * 400),
)
limits = st.builds(
    Limits,
    requests=st.none() | st.integers(1, 8),
    input_tokens=st.none() | st.integers(1, 20000),
    output_tokens=st.none() | st.integers(1, 2000),
    total_tokens=st.none() | st.integers(1, 12000),
    usd=st.none() | st.floats(0.0, 0.03),
    seconds=st.none() | st.floats(0.0, 0.08),
    tools=st.fixed_dictionaries({"search": st.integers(0, 6), "browse": st.integers(0, 3)}),
)

_INDEX: dict[str, CorpusIndex] = {}
WORST = {"seconds_excess": 0.0, "runs": 0}


def _index(tmp: Path) -> CorpusIndex:
    """The shared index, after one run of every strategy: first-use imports and prompt loading are
    one-off process costs that no deadline can interrupt, not what this property measures."""
    if "i" not in _INDEX:
        _INDEX["i"] = index = small_index(tmp)
        tools = [SearchTool(index), BrowseTool(index, mode="summarize")]
        script = [
            '<tool_code>{"name": "search", "arguments": {"query": ["Paris"]}}</tool_code>',
            "<answer>Paris</answer>",
        ]
        for name in strategy_names():
            agent = Agent(ScriptedBackend(script * 20), tools=tools, strategy=name, limits=Limits(requests=4))
            asyncio.run(agent.run("What is the capital of France?"))
    return _INDEX["i"]


def _script(texts: list[str], seed: int, *, hangs: bool) -> list:  # type: ignore[type-arg]
    """Replies with a small real latency, so a seconds limit meets calls in flight; with ``hangs``
    one reply in eight takes 30 s (only a deadline ends it)."""
    rng = random.Random(seed)
    latencies = (0.0, 0.0, 0.001, 0.004, 0.0, 0.0, 0.001, 30.0) if hangs else (0.0, 0.0, 0.001, 0.004)

    def step(text: str):  # type: ignore[no-untyped-def]
        async def reply(request: ChatRequest) -> str:
            await asyncio.sleep(rng.choice(latencies))
            return text

        return reply

    return [step(t) for t in texts * 400]  # enough for an unlimited particle filter


@settings(
    max_examples=RUNS, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    limits=limits,
    script=st.lists(replies, min_size=1, max_size=10),
    strategy=st.sampled_from(strategy_names()),
    seed=st.integers(0, 2**16),
)
def test_no_limit_is_ever_exceeded(tmp_path: Path, limits: Limits, script: list[str], strategy: str, seed: int) -> None:
    index = _index(tmp_path)
    agent = Agent(
        ScriptedBackend(_script(script, seed, hangs=limits.seconds is not None)),
        tools=[SearchTool(index), BrowseTool(index, mode="summarize")],
        strategy=strategy,
        limits=limits,
        prices=PRICES,
    )
    started = time.monotonic()
    result = asyncio.run(agent.run("What is the capital of France?"))
    took = time.monotonic() - started
    assert result.stop_reason in ("answered", "budget_exhausted", "stalled"), (strategy, result.error)
    assert not any(entry.overrun for entry in result.ledger)
    assert_within_limits(result.usage, limits, usd_tolerance=1e-12)
    if limits.input_tokens is not None:
        assert result.usage.input_tokens <= limits.input_tokens
    if limits.seconds is not None:
        excess = max(0.0, took - limits.seconds)
        WORST["seconds_excess"] = max(WORST["seconds_excess"], excess)
        assert excess <= SECONDS_SLACK, (strategy, took, limits.seconds)
    assert result.overrun is None or set(result.overrun["excess"]) <= {"seconds"}
    if result.stop_reason == "budget_exhausted":
        assert result.exhausted
    WORST["runs"] += 1


def test_zz_report_the_worst_seconds_excess() -> None:
    """Printed with ``-s`` (the figure in RESULTS.md)."""
    print(f"\nproperty runs: {WORST['runs']}, largest seconds excess: {WORST['seconds_excess'] * 1000:.1f} ms")
