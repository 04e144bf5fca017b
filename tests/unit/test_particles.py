"""Particle filtering: the numerics on synthetic weights, then PF/ePF and baselines on scripted runs."""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Sequence

import httpx
import pytest

from thrifty.agents.agent import Agent
from thrifty.agents.controller import RunContext
from thrifty.agents.particles import (
    BestOfNStrategy,
    FilterSettings,
    GreedyStrategy,
    LLMJudgePRM,
    ParticleFilterStrategy,
    RewardModelPRM,
    SelfConsistencyStrategy,
    epf_settings,
    extract_answer,
)
from thrifty.agents.particles.generation import answer_key, weighted_vote
from thrifty.agents.particles.prm import parse_step_rewards, yes_probability
from thrifty.agents.particles.weights import (
    aggregate,
    annealing_temperature,
    ess,
    logit,
    lookahead_log_weight,
    multinomial_resample,
    normalized_entropy,
    softmax,
    systematic_resample,
)
from thrifty.backends import ChatRequest, OpenAICompatBackend, ScriptedBackend
from thrifty.backends.base import Completion, TokenLogprob
from thrifty.budget import Limits, Usage
from thrifty.errors import BackendError, ConfigError
from thrifty.evals.math_tasks import generate_math
from thrifty.evals.runner import score

# ------------------------------------------------------------------ numerics


def test_logit_softmax_and_ess_on_synthetic_weights() -> None:
    assert logit(0.5) == 0.0
    assert logit(0.9) == pytest.approx(math.log(9))
    assert math.isfinite(logit(0.0)) and math.isfinite(logit(1.0))  # clipped, never ±inf
    p = softmax([0.0, 0.0, 0.0, 0.0])
    assert p == [0.25] * 4 and ess(p) == pytest.approx(4.0)
    peaked = softmax([20.0, 0.0, 0.0, 0.0])
    assert ess(peaked) == pytest.approx(1.0, abs=1e-3)
    assert softmax([1.0, 2.0], temperature=1e6) == pytest.approx([0.5, 0.5], abs=1e-5)
    assert normalized_entropy([0.25] * 4) == pytest.approx(1.0)
    assert normalized_entropy(peaked) < 0.01


def test_aggregations() -> None:
    scores = [0.9, 0.5, 0.8]
    assert aggregate(scores, "last") == 0.8
    assert aggregate(scores, "min") == 0.5
    assert aggregate(scores, "prod") == pytest.approx(0.36)
    assert aggregate(scores, "mean") == pytest.approx(2.2 / 3)
    assert aggregate([], "prod") == 0.5


def test_multinomial_resampling_follows_the_probabilities() -> None:
    rng = random.Random(0)
    counts = Counter(multinomial_resample([0.7, 0.2, 0.1], rng, n=20_000))
    assert counts[0] / 20_000 == pytest.approx(0.7, abs=0.02)
    assert counts[2] / 20_000 == pytest.approx(0.1, abs=0.02)


def test_systematic_resampling_gives_floor_or_ceil_copies() -> None:
    probabilities = [0.5, 0.3, 0.15, 0.05]
    for seed in range(50):
        counts = Counter(systematic_resample(probabilities, random.Random(seed), n=8))
        for i, p in enumerate(probabilities):
            assert math.floor(8 * p) <= counts[i] <= math.ceil(8 * p)
        assert sum(counts.values()) == 8
    # Deterministic for a seed.
    assert systematic_resample(probabilities, random.Random(3)) == systematic_resample(probabilities, random.Random(3))


def test_annealing_schedule() -> None:
    collapsed = softmax([10.0, 0.0, 0.0, 0.0])  # ESS ≈ 1 of N = 4
    # Early: T = N/ESS · (1 − t/T_max)
    t = annealing_temperature(collapsed, 1, 10)
    assert t == pytest.approx(4 / ess(collapsed) * 0.9, rel=1e-6)
    # Later than the early phase, or with enough diversity: no annealing.
    assert annealing_temperature(collapsed, 5, 10) == 1.0
    assert annealing_temperature([0.25] * 4, 1, 10) == 1.0
    # Temperature decays with progress and never goes below 1.
    series = [annealing_temperature(collapsed, s, 20) for s in range(0, 10)]
    assert series == sorted(series, reverse=True) and min(series) >= 1.0
    assert annealing_temperature(collapsed, 1, 10, method="base") == pytest.approx(1.9)
    entropy_t = annealing_temperature(collapsed, 1, 10, method="entropy")
    assert entropy_t > 1.0
    # Annealed probabilities are flatter (higher ESS) than the raw ones.
    weights = [10.0, 0.0, 0.0, 0.0]
    assert ess(softmax(weights, t)) > ess(softmax(weights))


def test_lookahead_modulation_weight() -> None:
    assert lookahead_log_weight(2.0, None, 0.5) == 2.0
    assert lookahead_log_weight(2.0, -2.0, 0.0) == 2.0
    assert lookahead_log_weight(2.0, -2.0, 1.0) == -2.0
    assert lookahead_log_weight(2.0, -2.0, 0.25) == pytest.approx(1.0)


def test_answer_extraction_and_weighted_vote() -> None:
    assert extract_answer("so x = 4.\n\nTherefore, the final answer is: $\\boxed{42}$. I hope") == "42"
    assert extract_answer("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert extract_answer("Therefore, the final answer is: 17. I hope it is correct.") == "17"
    assert extract_answer("no answer yet") is None
    assert answer_key("1,200.0") == answer_key("$1200$") == "1200"
    answer, mass = weighted_vote(["12", "7", "12.0", None], [0.2, 0.5, 0.2, 0.1])
    assert answer == "7" and mass["12"] == pytest.approx(0.4)
    assert weighted_vote([None, None], [0.5, 0.5]) == (None, {})


def test_math_generator_is_deterministic_and_correct() -> None:
    tasks = generate_math(60, seed=1)
    assert [t.to_json() for t in tasks] == [t.to_json() for t in generate_math(60, seed=1)]
    assert [t.id for t in generate_math(10, seed=1)] == [t.id for t in tasks[:10]]
    assert {t.difficulty for t in tasks} == {"easy", "medium", "hard"}
    for t in tasks:
        assert int(t.answer) > 0 and t.question.endswith("have now?")
        assert score(t, t.answer) and score(t, f"{t.answer}.0") and not score(t, str(int(t.answer) + 1))
    # Re-derive one answer by hand from its sentences.
    t = generate_math(1, seed=0)[0]
    value = int(re.search(r"has (\d+)", t.question).group(1))  # type: ignore[union-attr]
    for sentence in re.split(r"(?<=\.) ", t.question)[1:-1]:
        value = _apply(sentence, value)
    assert str(value) == t.answer


def _apply(sentence: str, x: int) -> int:
    nums = [int(n) for n in re.findall(r"\d+", sentence)]
    fractions = {"half": 2, "a third": 3, "a quarter": 4, "a fifth": 5}
    if "buys" in sentence:
        return x + nums[0] * nums[1]
    if "gives away" in sentence:
        d = next(v for k, v in fractions.items() if k in sentence)
        return x - x // d
    if "as many" in sentence:
        return 2 * x
    if "loses" in sentence:
        return x - nums[0]
    if "boxes" in sentence:
        return x // nums[0]
    return x - nums[0] * nums[1]


# ------------------------------------------------------------------ PRMs


def _completion(text: str, top: Sequence[tuple[str, float]] = ()) -> Completion:
    logprobs = (TokenLogprob(text, top[0][1], tuple(top)),) if top else None
    return Completion(text=text, model="m", usage=Usage(requests=1, input_tokens=5, output_tokens=1), logprobs=logprobs)


def test_yes_probability_from_logprobs() -> None:
    c = _completion("Yes", [("Yes", math.log(0.6)), (" no", math.log(0.2)), ("yes", math.log(0.1))])
    assert yes_probability(c) == pytest.approx(0.7 / 0.9)
    assert yes_probability(_completion("No")) == 0.1  # no logprobs: the verdict, softened
    assert yes_probability(_completion("Maybe")) == 0.5


async def test_llm_judge_scores_only_new_steps_and_charges_the_ledger() -> None:
    backend = ScriptedBackend([_completion("Yes", [("Yes", math.log(0.8)), ("No", math.log(0.2))])] * 2)
    agent = Agent(backend, strategy="greedy")
    ledger = agent.new_ledger()
    ctx = RunContext(backend, agent.tools, ledger, lambda e: None)
    scores = await LLMJudgePRM().score("Q?", ["a", "b", "c"], [0.3], ctx=ctx, step=1)
    assert scores == pytest.approx([0.3, 0.8, 0.8])
    assert len(backend.requests) == 2 and ledger.used.requests == 2
    first = backend.requests[0]
    assert first.max_tokens == 1 and first.logprobs
    # The prefix judge continues the generator's conversation: system, problem, the steps up to the judged one.
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "user"]
    assert first.messages[2].content == "a\n\nb\n\n" and first.messages[-1].content.startswith("Is the last step")


async def test_reward_model_endpoint_parses_pairs_and_charges_prompt_tokens() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        seen.append(body)
        steps = body["messages"][-1]["content"].count("<extra_0>")
        return httpx.Response(
            200, json={"data": [{"index": 0, "data": [[0.1, 0.9]] * steps}], "usage": {"prompt_tokens": 77}}
        )

    prm = RewardModelPRM(
        "http://prm/v1", "Qwen/Qwen2.5-Math-PRM-7B", client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    backend = ScriptedBackend([])
    agent = Agent(backend)
    ledger = agent.new_ledger("tokens=1000")
    ctx = RunContext(backend, agent.tools, ledger, lambda e: None)
    assert await prm.score("Q", ["s1", "s2"], [], ctx=ctx, step=1) == pytest.approx([0.9, 0.9])
    assert seen[0]["messages"][-1]["content"] == "s1<extra_0>s2<extra_0>"
    assert ledger.used.input_tokens == 77 and ledger.used.requests == 1
    assert parse_step_rewards({"data": [{"data": [0.2, 0.7]}]}) == [0.2, 0.7]
    with pytest.raises(BackendError):
        parse_step_rewards({"error": "no"})


# ------------------------------------------------------------------ PF / ePF on scripted runs


class BiasedPRM:
    """An overconfident early PRM: at step 1 it is sure path 0 is right; later it cannot tell paths apart."""

    name = "biased"

    async def score(
        self, question: str, steps: Sequence[str], known: Sequence[float], *, ctx: RunContext, step: int
    ) -> list[float]:
        last = steps[-1]
        value = (0.999 if "path 0" in last else 0.01) if len(steps) == 1 else 0.6
        return [*known[: len(steps) - 1], value]


def _generator(finish_at: int = 4) -> ScriptedBackend:
    """Each call writes a distinct step; a particle finishes (boxed answer) at step ``finish_at``."""
    counter = itertools.count()

    def respond(request: ChatRequest) -> str:
        n = next(counter)
        done = sum(1 for m in request.messages if m.role == "assistant")
        steps = request.messages[-1].content.count("\n\n") if done else 0
        if steps + 1 >= finish_at:
            return f"so the answer is \\boxed{{{n % 3}}}"
        return f"## Step {steps + 1}: path {n}"

    return ScriptedBackend([respond] * 2000)


async def _run_filter(settings: FilterSettings, limits: str | None = None) -> tuple[ParticleFilterStrategy, object]:
    strategy = ParticleFilterStrategy(settings, prm=BiasedPRM(), name="test")
    result = await Agent(_generator(), strategy=strategy, limits=limits).run("How many?")
    return strategy, result


async def test_plain_pf_collapses_and_epf_keeps_diversity() -> None:
    pf, pf_result = await _run_filter(FilterSettings(particles=8, max_steps=12, seed=0))
    epf, epf_result = await _run_filter(epf_settings(8, lookahead=0.0, max_steps=12, seed=0))
    # After the first resampling plain PF holds one lineage; ePF's annealed resampling keeps several.
    assert pf.history[0].lineages == 1 and pf.history[0].temperature == 1.0
    assert epf.history[0].temperature > 1.0
    assert epf.history[0].lineages >= 3
    assert len(set(epf.history[0].ancestors)) > len(set(pf.history[0].ancestors))
    for result in (pf_result, epf_result):
        assert result.stop_reason == "answered" and result.answer is not None  # type: ignore[attr-defined]
        assert any(n.startswith("best: particle") for n in result.notes)  # type: ignore[attr-defined]
    # Across seeds the difference holds on average, not by luck of one draw.
    pf_lineages, epf_lineages = [], []
    for seed in range(8):
        a, _ = await _run_filter(FilterSettings(particles=8, seed=seed))
        b, _ = await _run_filter(epf_settings(8, lookahead=0.0, seed=seed))
        pf_lineages.append(a.history[-1].lineages)
        epf_lineages.append(b.history[-1].lineages)
    assert max(pf_lineages) == 1 and min(epf_lineages) >= 2


async def test_every_particle_step_and_prm_call_is_charged_and_budget_stops_the_filter() -> None:
    # Generation and judge calls interleave: one responder routes them (judge calls ask for one token).
    def respond(request: ChatRequest) -> Completion | str:
        if request.max_tokens == 1:
            return _completion("Yes", [("Yes", math.log(0.7)), ("No", math.log(0.3))])
        if request.messages[-1].content.endswith("\\boxed{"):  # a forced conclusion
            return "2"
        return "## Step: 1 + 1 = 2"

    backend = ScriptedBackend([respond] * 400)
    strategy = ParticleFilterStrategy(FilterSettings(particles=3, max_steps=50), name="pf")
    result = await Agent(backend, strategy=strategy, limits=Limits(total_tokens=3000)).run("What is 1 + 1?")
    assert result.stop_reason == "answered" and result.exhausted == "tokens"
    assert result.usage.total_tokens <= 3000
    assert result.answer == "2"  # the particles concluded while the budget could still pay for it
    model_entries = [e for e in result.ledger if e.kind == "model"]
    assert len(model_entries) == len(backend.requests)  # every call, generation and PRM, is on the ledger
    assert any(r.max_tokens == 1 for r in backend.requests)


async def test_lookahead_commits_the_kept_successor_without_generating_again() -> None:
    backend = _generator(finish_at=3)
    strategy = ParticleFilterStrategy(epf_settings(2, lookahead=1.0, max_steps=6), prm=BiasedPRM(), name="epf")
    result = await Agent(backend, strategy=strategy).run("How many?")
    assert result.answer is not None
    generations = len(backend.requests)
    # Without look-ahead reuse, each particle would generate every step plus a look-ahead per step.
    assert generations < 2 * 2 * 3
    assert result.stop_reason == "answered"


async def test_continuation_requests_prefill_the_partial_solution() -> None:
    backend = _generator(finish_at=2)
    await Agent(backend, strategy=ParticleFilterStrategy(FilterSettings(particles=1), prm=BiasedPRM())).run("Q?")
    first, second = backend.requests[0], backend.requests[1]
    assert first.messages[-1].role == "user" and first.stop == ("\n\n",)
    assert second.messages[-1].role == "assistant" and second.messages[-1].content.endswith("\n\n")
    # How to continue is the backend's business: no strategy-level flags; the vLLM body gets them.
    assert not second.extra_body and not first.extra_body
    wire = OpenAICompatBackend("http://127.0.0.1:9/v1", "m")
    body = wire._kwargs(second)
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert "continue_final_message" not in wire._kwargs(first)
    await wire.aclose()
    assert second.messages[:2] == first.messages[:2]  # a shared prefix for prefix caching


async def test_an_echoed_prefill_never_reaches_the_particles() -> None:
    """A server that echoes the prefill (llama-server) and one that does not (vLLM) give the same steps."""

    def solve(echo: bool) -> ScriptedBackend:
        def respond(request: ChatRequest) -> str:
            last = request.messages[-1]
            prefill = last.content if last.role == "assistant" else ""
            new = {0: "Step one.", 1: "Step two."}.get(prefill.count("\n\n"), "\\boxed{4}")
            return (prefill if echo else "") + new

        return ScriptedBackend([respond] * 10)

    backends = [solve(echo) for echo in (True, False)]
    for backend in backends:
        result = await Agent(
            backend, strategy=ParticleFilterStrategy(FilterSettings(particles=1), prm=BiasedPRM())
        ).run("Q?")
        assert result.answer == "4"
    prefills = [[r.messages[-1].content for r in b.requests if r.messages[-1].role == "assistant"] for b in backends]
    assert prefills[0] == prefills[1] and "Step one.\n\nStep two.\n\n" in prefills[0]


async def test_baselines_under_one_budget() -> None:
    answers = iter(["\\boxed{5}", "\\boxed{7}", "\\boxed{5}", "\\boxed{9}"])
    backend = ScriptedBackend([lambda r: next(answers)] * 4)
    result = await Agent(backend, strategy=SelfConsistencyStrategy(4)).run("Q?")
    assert result.answer == "5" and set(result.candidates) == {"5", "7", "9"}

    backend = ScriptedBackend(["Step one.\n\nThe answer is \\boxed{3}"])
    result = await Agent(backend, strategy=GreedyStrategy()).run("Q?")
    assert result.answer == "3" and backend.requests[0].temperature == 0.0

    # A solution cut off before its answer is asked to conclude (prefilled up to \boxed{).
    backend = ScriptedBackend(["Step one.\n\nStep two, still going", "11"])
    result = await Agent(backend, strategy=GreedyStrategy()).run("Q?")
    conclusion = backend.requests[1].messages[-1]
    assert result.answer == "11" and conclusion.role == "assistant" and conclusion.content.endswith("\\boxed{")

    def respond(request: ChatRequest) -> Completion | str:
        if request.max_tokens == 1:  # judge: likes the solution that says 8
            good = "\\boxed{8}" in "".join(m.content for m in request.messages)
            return _completion(
                "Yes" if good else "No",
                [("Yes", math.log(0.9 if good else 0.2)), ("No", math.log(0.1 if good else 0.8))],
            )
        return "Work.\n\n\\boxed{8}" if len(backend.requests) % 2 else "Work.\n\n\\boxed{6}"

    backend = ScriptedBackend([respond] * 8)
    result = await Agent(backend, strategy=BestOfNStrategy(3)).run("Q?")
    assert result.answer == "8"
    assert sum(1 for r in backend.requests if r.max_tokens == 1) == 3  # one judge call per sample ("last")

    # Under a budget that pays for only some samples, the ones that finished still decide.
    backend = ScriptedBackend([lambda r: "\\boxed{4}"] * 8)
    result = await Agent(backend, strategy=SelfConsistencyStrategy(8), limits="requests=3").run("Q?")
    assert result.answer == "4" and result.stop_reason == "answered" and result.exhausted == "requests"
    assert result.usage.requests == 3


def test_registry_names() -> None:
    from thrifty.agents.strategies import get_strategy

    assert get_strategy("greedy").name == "greedy"
    for name in ("pf", "epf", "best-of-n", "self-consistency"):
        assert get_strategy(name).name == f"{name}:4"
        assert get_strategy(f"{name}:8").name == f"{name}:8"
    assert get_strategy("epf:2").settings.particles == 2  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="strategy"):
        get_strategy("pf:zero")
