"""Particles that share their steps draft the next ones as one ``n = k`` request (issue 19,
deliverable 2: PF's cost against self-consistency). The prompt goes out once per distinct prefix;
every particle still gets its own, independently sampled step, in its own place."""

from __future__ import annotations

import random

from thrifty.agents.calls import ModelCaller
from thrifty.agents.events import ignore_events
from thrifty.agents.particles import FilterSettings, ParticleFilterStrategy, SelfCertaintyPRM
from thrifty.agents.particles.generation import Particle, StepSettings, draft_steps
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.backends.base import Completion
from thrifty.budget import Ledger, Limits, Usage


def _echo(request: ChatRequest) -> str:
    """A step that names the prefix it continued (its last step, or 'start') and a fresh draw."""
    last = request.messages[-1]
    prefix = last.content.strip().split("\n\n")[-1] if last.role == "assistant" else "start"
    return f"after {prefix}: {random.random():.6f}"


def _caller(backend: ScriptedBackend) -> ModelCaller:
    return ModelCaller(backend, Ledger(Limits()), ignore_events)


async def test_particles_with_the_same_steps_share_one_request_and_each_gets_its_own_step() -> None:
    backend = ScriptedBackend([_echo] * 10)
    strategy = ParticleFilterStrategy(FilterSettings(particles=4), prm=SelfCertaintyPRM())
    particles = [Particle(["A"]), Particle(["B"]), Particle(["A"]), Particle(["A"])]
    drafts = await strategy._drafts(particles, "q", _caller(backend), 2, top=None)
    assert sorted(r.n for r in backend.requests) == [1, 3]  # one request per distinct prefix
    assert [d.text.split(":")[0] for d in drafts] == ["after A", "after B", "after A", "after A"]
    assert len({d.text for d in drafts}) == 4  # the three copies of A drew three different steps
    assert backend.remaining_steps == 6


async def test_drafts_apart_send_one_request_per_particle() -> None:
    backend = ScriptedBackend([_echo] * 4)
    strategy = ParticleFilterStrategy(FilterSettings(particles=4, shared_drafts=False), prm=SelfCertaintyPRM())
    particles = [Particle(["A"]) for _ in range(4)]
    drafts = await strategy._drafts(particles, "q", _caller(backend), 2, top=None)
    assert [r.n for r in backend.requests] == [1, 1, 1, 1] and len(drafts) == 4


async def test_a_server_that_returns_fewer_choices_is_asked_again_for_the_rest() -> None:
    one_choice = Completion("first", "m", Usage(requests=1, input_tokens=10, output_tokens=1), samples=("first",))
    backend = ScriptedBackend([one_choice, "second", "third"])
    drafts = await draft_steps(_caller(backend), "q", ["A"], StepSettings(), 3, step=1)
    assert [d.text for d in drafts] == ["first", "second", "third"]
    assert [r.n for r in backend.requests] == [3, 2]  # the missing two in a second request


async def test_a_scripted_n_request_bills_the_prompt_once_and_every_choice() -> None:
    backend = ScriptedBackend(["one two", "three four five"])
    reply = await backend.complete(ChatRequest(messages=(), n=2))
    single = await ScriptedBackend(["one two"]).complete(ChatRequest(messages=()))
    assert reply.samples == ("one two", "three four five") and reply.text == "one two"
    assert reply.usage.requests == 1 and reply.usage.input_tokens == single.usage.input_tokens
    assert reply.usage.output_tokens > single.usage.output_tokens
    assert len(reply.sample_logprobs) == 2
