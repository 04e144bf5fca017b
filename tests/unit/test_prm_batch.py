"""All particles of a step judged in one batched request (issue 19, deliverable 2): the backend's
multi-prompt capability (``/v1/completions`` with a list of prompts on llama-server and vLLM), its
ledger accounting (one request, the summed tokens, counted before the call), its events, the run's
deadline, and malformed replies, which fall back to one call each and never mis-assign a score."""

from __future__ import annotations

import pytest

from thrifty.agents.context import RunContext
from thrifty.agents.events import BudgetCharged, Event, ModelCalled
from thrifty.agents.particles import FilterSettings, LLMJudgePRM, ParticleFilterStrategy, StepSettings
from thrifty.agents.particles.prm import Scoring
from thrifty.backends import ChatRequest, Message, ScriptedBackend
from thrifty.backends.base import Backend
from thrifty.backends.batch import BatchReplyError, PromptBatch, batchable, parse_batch_reply
from thrifty.backends.openai_compat import OpenAICompatBackend
from thrifty.budget import BudgetExceeded, Ledger, LimitKind, Limits, MonotonicClock
from thrifty.loopback import StubServer
from thrifty.tools.base import Toolset

_REAL = (OpenAICompatBackend.complete, OpenAICompatBackend.complete_batch)


@pytest.fixture(autouse=True)
def _allow_the_loopback_stub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every backend here talks to the loopback ModelStub, never a model."""
    monkeypatch.setattr(OpenAICompatBackend, "complete", _REAL[0])
    monkeypatch.setattr(OpenAICompatBackend, "complete_batch", _REAL[1])


PARTICLES: list[Scoring] = [
    (["## Step 1: add", "## Step 2: wrong sum"], [0.9]),
    (["## Step 1: wrong start"], []),
    (["## Step 1: add", "## Step 2: multiply"], [0.9]),
    (["## Step 1: subtract", "## Step 2: wrong sign"], [0.9]),
]
EXPECTED = [[0.9, 0.1], [0.1], [0.9, 0.9], [0.9, 0.1]]


def _context(backend: Backend, limits: Limits | None = None) -> tuple[RunContext, list[Event]]:
    events: list[Event] = []
    ledger = Ledger(limits or Limits(total_tokens=100_000), clock=MonotonicClock())
    return RunContext(backend, Toolset([]), ledger, events.append), events


def _stub(server: str, **options: object) -> StubServer:
    stub = StubServer()
    stub.stub.server = server  # type: ignore[assignment]
    for name, value in options.items():
        setattr(stub.stub, name, value)
    return stub


async def _score(stub: StubServer, limits: Limits | None = None) -> tuple[list[list[float]], RunContext, list[Event]]:
    backend = OpenAICompatBackend(stub.base_url, "stub", max_retries=0)
    ctx, events = _context(backend, limits)
    try:
        scores = await LLMJudgePRM().score_many("What is 2 + 3?", PARTICLES, ctx=ctx, step=1)
    finally:
        await backend.aclose()
    return scores, ctx, events


@pytest.mark.parametrize("server", ["vllm", "llamacpp"])
async def test_every_new_step_is_judged_in_one_request_charged_once_with_the_summed_tokens(server: str) -> None:
    with _stub(server) as stub:
        scores, ctx, events = await _score(stub)
    assert [[round(s, 6) for s in row] for row in scores] == EXPECTED  # reply order was reversed
    assert (stub.stub.batch_requests, stub.requests) == (1, 0)
    judged = [e for e in events if isinstance(e, ModelCalled)]
    assert len(judged) == 4 and {e.purpose for e in judged} == {"prm"}
    assert [e.completion.usage.requests for e in judged] == [1, 0, 0, 0]  # the shares add up to one request
    [charged] = [e for e in events if isinstance(e, BudgetCharged)]
    prompt_tokens = sum(e.prompt_tokens_counted for e in judged)
    assert charged.entry.usage.requests == 1 and not charged.entry.estimated
    assert (charged.entry.usage.input_tokens, charged.entry.usage.output_tokens) == (prompt_tokens, 4)
    assert ctx.ledger.used.requests == 1 and ctx.ledger.pending.total_tokens == 0


async def test_the_batched_scores_are_those_of_one_call_per_step() -> None:
    with _stub("plain") as plain:
        one_each, ctx, _ = await _score(plain)
    with _stub("vllm") as batching:
        batched, batched_ctx, _ = await _score(batching)
    assert plain.requests == 4 and ctx.ledger.used.requests == 4
    assert [round(s, 9) for row in batched for s in row] == [round(s, 9) for row in one_each for s in row]
    assert batched_ctx.ledger.used.input_tokens == ctx.ledger.used.input_tokens  # same prompts, one request


@pytest.mark.parametrize("fault", ["short", "bad-index", "duplicate"])
async def test_a_reply_that_cannot_be_matched_to_its_prompts_falls_back_to_one_call_each(fault: str) -> None:
    with _stub("vllm", batch_fault=fault) as stub:
        backend = OpenAICompatBackend(stub.base_url, "stub", max_retries=0)
        ctx, _ = _context(backend)
        prm = LLMJudgePRM()
        scores = await prm.score_many("Q", PARTICLES, ctx=ctx, step=1)
        again = await prm.score_many("Q", PARTICLES, ctx=ctx, step=2)
        await backend.aclose()
    assert [[round(s, 6) for s in row] for row in scores] == EXPECTED == [[round(s, 6) for s in r] for r in again]
    # the broken batch is charged as a failed request; then four calls, and batching stays off
    assert stub.stub.batch_requests == 1 and stub.requests == 8
    assert ctx.ledger.used.requests == 1 + 8


def test_malformed_batched_replies_are_typed_errors_never_a_positional_guess() -> None:
    request = ChatRequest(messages=(Message("user", "x"),), max_tokens=1)
    batch = PromptBatch((request, request), ((1, 2), (3,)))
    good = [{"index": 1, "text": "No"}, {"index": 0, "text": "Yes"}]
    reply = parse_batch_reply({"choices": good, "usage": {"prompt_tokens": 3, "completion_tokens": 2}}, batch, "m")
    assert [c.text for c in reply.completions] == ["Yes", "No"] and reply.usage.requests == 1
    assert (reply.usage.input_tokens, reply.usage_estimated) == (3, False)
    for choices in ([good[0]], [*good, {"index": 2, "text": "?"}], [good[0], good[0]], [{"text": "Yes"}, good[0]]):
        with pytest.raises(BatchReplyError):
            parse_batch_reply({"choices": choices}, batch, "m")
    estimated = parse_batch_reply({"choices": good}, batch, "m")  # no usage: exact prompts, estimated
    assert estimated.usage_estimated and estimated.usage.input_tokens == 3
    # usage that covers one prompt of two (seen from llama-server) is raised to the exact prompts
    partial = parse_batch_reply({"choices": good, "usage": {"prompt_tokens": 2, "completion_tokens": 1}}, batch, "m")
    assert partial.usage_estimated and (partial.usage.input_tokens, partial.usage.output_tokens) == (3, 2)


def test_only_requests_that_differ_in_their_messages_alone_share_a_request() -> None:
    a = ChatRequest(messages=(Message("user", "a"),), max_tokens=1, temperature=0.0)
    b = ChatRequest(messages=(Message("user", "b"),), max_tokens=1, temperature=0.0)
    assert batchable([a, b])
    assert not batchable([a])
    assert not batchable([a, ChatRequest(messages=b.messages, max_tokens=2, temperature=0.0)])
    assert not batchable([a, ChatRequest(messages=b.messages, max_tokens=1, temperature=0.0, n=2)])


async def test_a_backend_without_the_capability_gets_one_call_per_request() -> None:
    backend = ScriptedBackend([lambda r: "Yes" if "wrong" not in r.messages[-2].content[-30:] else "No"] * 6)
    ctx, _ = _context(backend)
    scores = await LLMJudgePRM().score_many("Q", PARTICLES, ctx=ctx, step=1)
    assert scores == [[0.9, 0.1], [0.1], [0.9, 0.9], [0.9, 0.1]]
    assert len(backend.requests) == 4 and ctx.ledger.used.requests == 4


async def test_a_batch_the_budget_cannot_cover_is_refused_before_it_is_sent() -> None:
    with _stub("vllm") as stub, pytest.raises(BudgetExceeded):
        await _score(stub, Limits(total_tokens=300))
    assert stub.stub.batch_requests == 0 and stub.requests == 0


async def test_the_runs_deadline_cuts_a_batched_request() -> None:
    with _stub("vllm", latency=5.0) as stub, pytest.raises(BudgetExceeded) as info:
        await _score(stub, Limits(seconds=0.5))
    assert info.value.kind is LimitKind.SECONDS


async def test_a_particle_filter_step_costs_one_judge_request_for_all_particles() -> None:
    with _stub("llamacpp") as stub:
        backend = OpenAICompatBackend(stub.base_url, "stub", max_retries=0)
        ctx, _ = _context(backend)
        settings = FilterSettings(particles=4, max_steps=3, step=StepSettings(max_tokens=32))
        strategy = ParticleFilterStrategy(settings, LLMJudgePRM())
        await strategy.solve("Q", ctx)
        await backend.aclose()
    # three steps of 4 drafts and 1 judge request each (the stub never finishes), then 4 conclusions
    assert stub.stub.batch_requests == 3 and stub.requests == 3 * 4 + 4
    assert ctx.ledger.used.requests == 3 * 5 + 4


async def test_a_server_that_refuses_the_batch_is_charged_the_request_and_answered_one_call_each() -> None:
    with _stub("vllm", batch_fault="refuse") as stub:
        scores, ctx, events = await _score(stub)
    assert [[round(s, 6) for s in row] for row in scores] == EXPECTED
    assert (stub.stub.batch_requests, stub.requests, ctx.ledger.used.requests) == (1, 4, 5)
    assert sum(isinstance(e, ModelCalled) for e in events) == 4


async def test_best_of_n_judges_its_samples_in_one_batched_request() -> None:
    from thrifty.agents.particles import BestOfNStrategy

    with _stub("vllm", answer="5") as stub:
        backend = OpenAICompatBackend(stub.base_url, "stub", max_retries=0)
        ctx, events = _context(backend)
        try:
            result = await BestOfNStrategy(3).solve("What is 2 + 3?", ctx)
        finally:
            await backend.aclose()
    judged = [e for e in events if isinstance(e, ModelCalled) and e.purpose == "prm"]
    assert (stub.stub.batch_requests, len(judged)) == (1, 3)  # three judgements, one request
    assert ctx.ledger.used.requests == stub.requests + 1
    assert result.answer is not None and "5" in result.answer
    assert result.notes[-1] == "scores: [0.9, 0.9, 0.9]"
