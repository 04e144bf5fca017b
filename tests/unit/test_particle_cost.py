"""Issue 19, deliverable 2: particle filtering cut in cost — a judge that shares the generator's
cached prefix and judges new steps only, and a scorer that needs no model call at all."""

from __future__ import annotations

import math

import pytest

from thrifty.agents.agent import Agent
from thrifty.agents.particles import (
    FilterSettings,
    LLMJudgePRM,
    ParticleFilterStrategy,
    SelfCertaintyPRM,
    SelfConsistencyStrategy,
)
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.backends.base import Completion, TokenLogprob
from thrifty.budget import Usage


def _respond(request: ChatRequest) -> Completion | str:
    """Judge calls say Yes; generations write two steps then a boxed answer (with logprobs when asked)."""
    if request.max_tokens == 1:
        return "Yes"  # usage estimated from the request, as for every scripted reply
    if not request.stop:  # a whole solution in one call (the self-consistency samples)
        return "\n\n".join([*(f"## Step {i + 1}: compute 2 + {i} = {2 + i}" for i in range(2)), "\\boxed{6}"])
    done = request.messages[-1].content.count("\n\n") if request.messages[-1].role == "assistant" else 0
    text = "The answer is \\boxed{6}" if done >= 2 else f"## Step {done + 1}: compute 2 + {done} = {2 + done}"
    logprobs = tuple(TokenLogprob(w, math.log(0.5)) for w in text.split()) if request.logprobs else None
    return Completion(text, "m", Usage(), logprobs=logprobs)


def _run(strategy: object) -> tuple[ScriptedBackend, object]:
    backend = ScriptedBackend([_respond] * 200)
    return backend, Agent(backend, strategy=strategy)  # type: ignore[arg-type]


async def test_the_judge_continues_the_generators_conversation_and_judges_the_new_step_only() -> None:
    backend, agent = _run(ParticleFilterStrategy(FilterSettings(particles=2), prm=LLMJudgePRM()))
    result = await agent.run("What is 2 + 4?")  # type: ignore[attr-defined]
    assert result.answer == "6"
    judged = [r for r in backend.requests if r.max_tokens == 1]
    generated = [r for r in backend.requests if r.max_tokens != 1]
    assert len(judged) == 6  # one judge call per new step, never a re-judge of old ones
    # The two particles write the same steps here, so each round drafts both as one n = 2 request.
    assert [r.n for r in generated] == [2, 2, 2]
    for judge in judged:
        assert judge.messages[:2] == generated[0].messages[:2]  # system + problem: the shared, cached prefix
        assert judge.messages[2].role == "assistant" and judge.messages[-1].content.startswith("Is the last step")
    # Each judge call's partial solution is exactly what the next generation of that particle prefills.
    prefills = {r.messages[2].content for r in generated if len(r.messages) == 3}
    assert prefills <= {j.messages[2].content for j in judged}


async def test_self_certainty_needs_no_extra_call_and_reads_the_generations_logprobs() -> None:
    backend, agent = _run(ParticleFilterStrategy(FilterSettings(particles=2), prm=SelfCertaintyPRM()))
    result = await agent.run("What is 2 + 4?")  # type: ignore[attr-defined]
    assert result.answer == "6"
    assert all(r.max_tokens != 1 for r in backend.requests)  # no judge calls
    assert all(r.logprobs and r.top_logprobs == 20 for r in backend.requests)
    assert SelfCertaintyPRM().step_score([TokenLogprob("a", math.log(0.5))] * 3) == pytest.approx(0.5)
    assert SelfCertaintyPRM().step_score(None) == 0.5  # no logprobs: neutral
    top = (("a", math.log(0.5)), ("b", math.log(0.5)))
    assert SelfCertaintyPRM(method="entropy").step_score([TokenLogprob("a", math.log(0.5), top)]) == pytest.approx(0.5)


async def test_token_counts_pf_against_self_consistency() -> None:
    """The accounting the benchmark reports: the self-certainty scorer drops the judge calls, and
    particles that share their steps draft as one ``n = 4`` request (the prompt sent once)."""
    counts = {}
    for name, strategy in {
        "sc": SelfConsistencyStrategy(4),
        "pf-judge": ParticleFilterStrategy(FilterSettings(particles=4), prm=LLMJudgePRM()),
        "pf-self": ParticleFilterStrategy(FilterSettings(particles=4), prm=SelfCertaintyPRM()),
        "pf-self-apart": ParticleFilterStrategy(
            FilterSettings(particles=4, shared_drafts=False), prm=SelfCertaintyPRM()
        ),
    }.items():
        _, agent = _run(strategy)
        result = await agent.run("What is 2 + 4?")  # type: ignore[attr-defined]
        counts[name] = (result.usage.requests, result.usage.input_tokens, result.usage.total_tokens)
    # three steps: 3 shared drafts (+ 12 judge calls), or one draft per particle and step
    assert counts["sc"][0] == 4 and counts["pf-self"][0] == 3 and counts["pf-judge"][0] == 15
    assert counts["pf-self-apart"][0] == 12
    assert counts["pf-self"][2] < counts["pf-judge"][2] / 1.5
    assert counts["pf-self"][1] * 3 < counts["pf-self-apart"][1]  # each prompt sent once, not four times
