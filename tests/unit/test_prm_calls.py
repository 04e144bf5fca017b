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


async def _hang(request: httpx.Request) -> httpx.Response:
    """An endpoint that answers long after any deadline a test sets."""
    await asyncio.sleep(30)
    return httpx.Response(200, json={})


def _context(limits: Limits) -> tuple[RunContext, list[Event]]:
    events: list[Event] = []
    ledger = Ledger(limits, clock=MonotonicClock())
    return RunContext(ScriptedBackend([]), Toolset([]), ledger, events.append), events


async def test_a_reward_call_is_charged_and_announced_like_every_model_call() -> None:
    seen_urls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen_urls.append(str(request.url))
        steps = json.loads(request.content)["messages"][-1]["content"].count("<extra_0>")
        return httpx.Response(200, json={"data": [{"data": [[0.3, 0.7]] * steps}], "usage": {"prompt_tokens": 40}})

    ctx, events = _context(Limits(total_tokens=1000))
    assert await _prm(answer).score("Q", ["a", "b"], [], ctx=ctx, step=2) == pytest.approx([0.7, 0.7])
    assert seen_urls == ["http://prm.invalid/pooling"]  # vLLM serves it at the root, not under /v1
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
    ctx, _ = _context(Limits(seconds=0.3))
    with pytest.raises(BudgetExceeded) as info:
        await _prm(_hang).score("Q", ["a"], [], ctx=ctx, step=1)
    assert info.value.kind is LimitKind.SECONDS
    assert ctx.ledger.elapsed() < 0.3 + 2.0
    assert ctx.ledger.used.requests == 1


def _pooling_server(refuse_batches: bool = False, drop_index: bool = False):  # type: ignore[no-untyped-def]
    """A stand-in for vLLM serving a PRM: /tokenize renders a chat as one token 7 per step tag plus
    three others; /pooling scores each tagged step 0.1 × its position (a list of token-id inputs or one
    chat). ``seen`` records every (path, body)."""
    seen: list[tuple[str, dict]] = []

    def tags(text: str) -> int:
        return text.count("<extra_0>")

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if request.url.path == "/tokenize":
            return httpx.Response(200, json={"tokens": [1, 2, 3] + [7] * tags(body["messages"][-1]["content"])})
        if "input" in body:
            if refuse_batches:
                return httpx.Response(400, json={"error": "input not supported"})
            items = [
                {"index": i, "data": [[0.0, 0.1 * (j + 1)] for j in range(ids.count(7))]}
                for i, ids in enumerate(body["input"])
            ][::-1]  # any order: matched by index
            if drop_index:
                items = items[1:]
            return httpx.Response(200, json={"data": items, "usage": {"prompt_tokens": sum(map(len, body["input"]))}})
        steps = tags(body["messages"][-1]["content"])
        rows = [[0.0, 0.1 * (j + 1)] for j in range(steps)]
        return httpx.Response(200, json={"data": [{"index": 0, "data": rows}], "usage": {"prompt_tokens": 3 + steps}})

    return handler, seen


PARTICLES = [(["a", "b"], [0.5]), ([], []), (["c"], []), (["d", "e", "f"], [])]
EXPECTED = [[0.1, 0.2], [], [0.1], [0.1, 0.2, 0.3]]


def _as_expected(scores: list[list[float]]) -> bool:
    return len(scores) == len(EXPECTED) and all(s == pytest.approx(e) for s, e in zip(scores, EXPECTED, strict=True))


async def test_all_particles_are_scored_by_one_pooling_request_charged_once() -> None:
    handler, seen = _pooling_server()
    ctx, events = _context(Limits(total_tokens=1000))
    scores = await _prm(handler).score_many("Q", PARTICLES, ctx=ctx, step=1)
    assert _as_expected(scores)
    pooled = [body for path, body in seen if path == "/pooling"]
    assert len(pooled) == 1 and len(pooled[0]["input"]) == 3  # the particle with no steps is not sent
    assert [path for path, _ in seen].count("/tokenize") == 3
    assert ctx.ledger.used.requests == 1 and ctx.ledger.used.input_tokens == 5 + 4 + 6
    assert sum(isinstance(e, BudgetCharged) for e in events) == 1


@pytest.mark.parametrize("fault", ["refused", "unmatched"])
async def test_a_batch_the_server_cannot_take_falls_back_to_one_call_each_and_stays_off(fault: str) -> None:
    handler, seen = _pooling_server(refuse_batches=fault == "refused", drop_index=fault == "unmatched")
    prm, (ctx, _) = _prm(handler), _context(Limits(total_tokens=1000))
    scores = await prm.score_many("Q", PARTICLES, ctx=ctx, step=1)
    assert _as_expected(scores)
    assert ctx.ledger.used.requests == 1 + 3  # the batch (charged, refused or unusable), then one per particle
    seen.clear()
    assert _as_expected(await prm.score_many("Q", PARTICLES, ctx=ctx, step=2))
    assert all(path == "/pooling" and "messages" in body for path, body in seen) and len(seen) == 3


async def test_rendering_a_batch_is_bounded_by_the_runs_deadline() -> None:
    ctx, _ = _context(Limits(seconds=0.3))
    with pytest.raises(BudgetExceeded) as info:
        await _prm(_hang).score_many("Q", PARTICLES, ctx=ctx, step=1)
    assert info.value.kind is LimitKind.SECONDS and ctx.ledger.elapsed() < 0.3 + 2.0
    assert ctx.ledger.used.requests == 0  # /tokenize is not a model call: nothing was charged
