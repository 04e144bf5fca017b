"""Particle filtering against the real embedded llama-server: prefill continuation, logprob PRM, ledger."""

from __future__ import annotations

import pytest

from thrifty.agents.agent import Agent
from thrifty.agents.calls import ModelCaller
from thrifty.agents.events import Event, ModelCalled
from thrifty.agents.particles import LLMJudgePRM, ParticleFilterStrategy, StepSettings, epf_settings
from thrifty.agents.particles.generation import next_step
from thrifty.backends import OpenAICompatBackend
from thrifty.budget import Ledger, Limits
from thrifty.evals.math_tasks import generate_math

pytestmark = pytest.mark.live_model


async def test_continuation_returns_only_the_new_step(live_backend: OpenAICompatBackend) -> None:
    question = generate_math(1, seed=0)[0].question
    caller = ModelCaller(live_backend, Ledger(Limits()), lambda e: None)
    settings = StepSettings(max_tokens=48, temperature=0.0)
    first, _ = await next_step(caller, question, [], settings, step=1)
    second, _ = await next_step(caller, question, [first], settings, step=2)
    assert first and second
    assert not second.startswith(first)  # llama.cpp echoes the prefill; only the continuation is kept
    assert "\n\n" not in first and "\n\n" not in second  # cut at the step delimiter


async def test_epf_on_the_embedded_model_charges_every_call_and_answers(live_backend: OpenAICompatBackend) -> None:
    task = generate_math(1, seed=3)[0]
    events: list[Event] = []
    settings = epf_settings(2, lookahead=0.5, max_steps=3, step=StepSettings(max_tokens=64))
    strategy = ParticleFilterStrategy(settings, prm=LLMJudgePRM(), name="epf")
    result = await Agent(live_backend, strategy=strategy, limits="tokens=20000").run(
        task.question, on_event=events.append
    )
    calls = [e for e in events if isinstance(e, ModelCalled)]
    assert result.stop_reason in ("answered", "budget_exhausted")
    assert result.answer is not None  # finished, or forced to conclude after max_steps
    assert result.usage.requests == len([e for e in result.ledger if e.kind == "model"])
    # one ModelCalled per prompt: a batched judge request (one charge) announces each particle's judgement
    assert len(calls) >= result.usage.requests
    assert result.usage.total_tokens <= 20000
    judged = [c for c in calls if c.purpose == "prm"]
    assert judged and all(c.completion.logprobs for c in judged)  # P(Yes) read from real logprobs
    assert {c.purpose for c in calls} >= {"particle", "prm"}
    assert any(n.startswith("step 1:") for n in result.notes)
