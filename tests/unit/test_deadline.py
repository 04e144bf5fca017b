"""`seconds` is hard: one deadline that every wait honours (model call, count, tool, PRM, back-off)."""

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from thrifty.agents.agent import Agent
from thrifty.agents.controller import RunContext
from thrifty.agents.events import ignore_events
from thrifty.agents.particles.prm import RewardModelPRM
from thrifty.backends import ScriptedBackend
from thrifty.backends.base import ChatRequest, TokenCount
from thrifty.backends.tokens import count_text_tokens
from thrifty.budget import Deadline, FakeClock, Ledger, Limits, MonotonicClock
from thrifty.errors import BackendTimeout
from thrifty.tools.base import FunctionTool, Toolset

count_text_tokens("warm up")  # loading the encoding is a one-off blocking cost, not a wait a deadline can cut

LIMIT = 0.3
SLACK = 2.0  # scheduling on a loaded 2-core machine; every hang below is 30 s, so a wait past the deadline shows


class SlowCounter(ScriptedBackend):
    """A server whose token count hangs (its own client would wait 30 s)."""

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        await asyncio.sleep(30)
        return TokenCount(1, exact=True)


async def _timed(agent: Agent) -> tuple[Any, float]:
    started = time.monotonic()
    result = await agent.run("q")
    return result, time.monotonic() - started


async def test_a_hanging_token_count_stops_at_the_deadline() -> None:
    agent = Agent(SlowCounter(["<answer>x</answer>"]), limits=Limits(seconds=LIMIT, total_tokens=50_000))
    result, took = await _timed(agent)
    assert (result.stop_reason, result.exhausted) == ("budget_exhausted", "seconds")
    assert took < LIMIT + SLACK


async def test_a_hanging_model_call_is_cut_at_the_deadline_and_reported_as_time_out() -> None:
    async def hang(request: ChatRequest) -> str:
        await asyncio.sleep(30)
        return "<answer>late</answer>"

    result, took = await _timed(Agent(ScriptedBackend([hang]), limits=Limits(seconds=LIMIT)))
    assert (result.stop_reason, result.exhausted) == ("budget_exhausted", "seconds")
    assert took < LIMIT + SLACK and result.seconds <= LIMIT + SLACK


async def test_a_hanging_tool_is_cut_at_the_deadline() -> None:
    async def hang(arguments: Mapping[str, Any]) -> str:
        await asyncio.sleep(30)
        return "late"

    tool = FunctionTool("lookup", "Look up.", {"type": "object", "properties": {}}, hang)
    backend = ScriptedBackend(['<tool_code>{"name": "lookup", "arguments": {}}</tool_code>', "<answer>x</answer>"])
    agent = Agent(backend, tools=[tool], limits=Limits(seconds=LIMIT), strategy="react")
    result, took = await _timed(agent)
    assert (result.stop_reason, result.exhausted) == ("budget_exhausted", "seconds")
    assert took < LIMIT + SLACK


async def test_a_call_that_cannot_finish_is_not_started() -> None:
    clock = FakeClock()

    def slow(request: ChatRequest) -> str:
        clock.advance(4)
        return '<tool_code>{"name": "lookup", "arguments": {}}</tool_code>'

    async def instant(arguments: Mapping[str, Any]) -> str:
        return "ok"

    tool = FunctionTool("lookup", "Look up.", {"type": "object", "properties": {}}, instant)
    backend = ScriptedBackend([slow, slow, slow, slow])
    result = await Agent(backend, tools=[tool], limits=Limits(seconds=10), clock=clock, strategy="react").run("q")
    # Calls take 4 s: after two (8 s) the 2 s left cannot hold a third, so it is never sent.
    assert result.usage.requests == 2 and len(backend.requests) == 2
    assert result.exhausted == "seconds" and result.seconds <= 10


async def test_the_deadline_never_starts_a_wait_without_time_and_refuses_a_pause_that_does_not_fit() -> None:
    clock = FakeClock()
    deadline = Deadline(5.0, clock)
    assert deadline.timeout(30) == 5.0 and deadline.timeout(2) == 2
    clock.advance(5)
    started = False

    async def work() -> int:
        nonlocal started
        started = True
        return 1

    with pytest.raises(TimeoutError):
        await deadline.wait(work())
    assert not started
    with pytest.raises(TimeoutError, match="does not fit"):
        await Deadline(1.0, FakeClock()).sleep(2.0)
    assert Deadline(None, clock).timeout(7) == 7 and not Deadline(None, clock).expired


async def test_a_child_ledger_inherits_the_tighter_deadline() -> None:
    clock = FakeClock()
    parent = Ledger(Limits(seconds=10), clock=clock)
    clock.advance(4)
    child = parent.child(Limits(seconds=30))
    assert child.deadline().remaining() == 6.0
    assert parent.child(Limits(seconds=2)).deadline().remaining() == 2.0


async def test_the_reward_model_call_is_bounded_without_a_seconds_limit() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json={})

    prm = RewardModelPRM(
        "http://prm.invalid/v1", "prm", timeout=0.2, client=httpx.AsyncClient(transport=httpx.MockTransport(hang))
    )
    ledger = Ledger(Limits(), clock=MonotonicClock())
    ctx = RunContext(ScriptedBackend([]), Toolset([]), ledger, ignore_events)
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        await prm.score("q", ["step one"], [], ctx=ctx, step=0)
    assert time.monotonic() - started < 0.2 + SLACK
    assert ledger.used.requests == 1  # the call is charged, like every model call that reached a server
    await prm.aclose()


async def _lying(request: ChatRequest) -> Any:
    """A server that ignores ``max_tokens`` and bills 50,000 output tokens per call."""
    from thrifty.backends.base import Completion
    from thrifty.budget import Usage

    await asyncio.sleep(0.01)  # the calls of concurrent children are in flight together
    return Completion(
        text="<answer>x</answer>", model="m", usage=Usage(requests=1, input_tokens=500, output_tokens=50_000)
    )


@pytest.mark.parametrize(("strategy", "children"), [("parallel", 4), ("best-of-n:8", 8), ("pf:8", 8), ("react", 1)])
async def test_a_lying_server_costs_at_most_one_calls_excess_per_concurrent_child(strategy: str, children: int) -> None:
    backend = ScriptedBackend([_lying] * 200, respect_max_tokens=False)
    limit = 20_000
    result = await Agent(backend, strategy=strategy, limits=Limits(total_tokens=limit)).run("q")
    assert result.stop_reason == "budget_exhausted"
    assert result.overrun is not None and 1 <= result.overrun["calls"] <= children
    assert len(backend.requests) <= children  # after the overrun no child starts another call
    assert result.usage.total_tokens <= limit + children * 50_500
    assert result.overrun["excess"]["total_tokens"] == result.usage.total_tokens - limit
    as_json = result.to_dict()  # what `thrifty ask --json` prints
    assert as_json["overrun"] == result.overrun and as_json["limits"] == {"total_tokens": limit}
