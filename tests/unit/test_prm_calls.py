"""The reward-model PRM goes through the one charged call path (ModelCaller.charged): its charge is
emitted like every model call's, a failure is charged, and the run's deadline bounds it (issue 11)."""

import asyncio
import json

import httpx
import pytest

from thrifty.agents.context import RunContext
from thrifty.agents.events import BudgetCharged, Event
from thrifty.agents.particles.prm import RewardModelPRM
from thrifty.backends import ScriptedBackend
from thrifty.budget import BudgetExceeded, Ledger, LimitKind, Limits, MonotonicClock
from thrifty.errors import BackendError
from thrifty.tools.base import Toolset


def _prm(handler) -> RewardModelPRM:  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return RewardModelPRM("http://prm.invalid/v1", "prm-7b", timeout=5.0, client=client)


def _context(limits: Limits) -> tuple[RunContext, list[Event]]:
    events: list[Event] = []
    ledger = Ledger(limits, clock=MonotonicClock())
    return RunContext(ScriptedBackend([]), Toolset([]), ledger, events.append), events


async def test_a_reward_call_is_charged_and_announced_like_every_model_call() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        steps = json.loads(request.content)["messages"][-1]["content"].count("<extra_0>")
        return httpx.Response(200, json={"data": [{"data": [[0.3, 0.7]] * steps}], "usage": {"prompt_tokens": 40}})

    ctx, events = _context(Limits(total_tokens=1000))
    assert await _prm(answer).score("Q", ["a", "b"], [], ctx=ctx, step=2) == pytest.approx([0.7, 0.7])
    [charged] = [e for e in events if isinstance(e, BudgetCharged)]
    assert (charged.entry.name, charged.entry.usage.input_tokens, charged.entry.estimated) == ("prm-7b", 40, False)
    assert ctx.ledger.pending.requests == 0  # the reservation was settled, not left held


async def test_a_failed_reward_call_is_charged_its_request_and_nothing_stays_held() -> None:
    ctx, events = _context(Limits(total_tokens=1000))
    with pytest.raises(BackendError, match="HTTP 503"):
        await _prm(lambda request: httpx.Response(503, text="busy")).score("Q", ["a"], [], ctx=ctx, step=1)
    assert ctx.ledger.used.requests == 1 and ctx.ledger.pending.total_tokens == 0
    assert any(isinstance(e, BudgetCharged) and e.entry.estimated for e in events)


async def test_the_runs_deadline_cuts_a_reward_call_shorter_than_its_timeout() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json={})

    ctx, _ = _context(Limits(seconds=0.3))
    with pytest.raises(BudgetExceeded) as info:
        await _prm(hang).score("Q", ["a"], [], ctx=ctx, step=1)
    assert info.value.kind is LimitKind.SECONDS
    assert ctx.ledger.elapsed() < 0.3 + 2.0
    assert ctx.ledger.used.requests == 1
