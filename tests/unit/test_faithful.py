"""Issue 19, deliverable 0: one test per published behaviour (formula, prompt, stopping rule,
selection rule, request shape), each pinned on scripted runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.strategies import BatsStrategy, SequentialStrategy
from thrifty.agents.strategies.bats import UNLIMITED_ATTEMPTS
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.tools.web import BrowseTool, SearchTool


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


def verdict(decision: str) -> str:
    keys = ("verification", "justification", "trajectory_summary")
    return json.dumps({"decision": decision, "details": {}, **{k: f"{k} text" for k in keys}})


@pytest.fixture
def web(tmp_path: Path) -> list:
    index = small_index(tmp_path)
    return [SearchTool(index), BrowseTool(index, mode="summarize")]


async def test_point6_bats_attempts_until_a_budget_is_exhausted(web: list) -> None:
    """BATS §4: new attempts until any budget is spent — past six, and past an attempt answering None."""
    script: list[str] = [call("search", query=["q0"]), "<answer>None</answer>", "<answer>None</answer>"]
    for i in range(1, 8):
        script += [call("search", query=[f"q{i}"]), "<answer>Lima</answer>"]
        if i < 7:  # the eighth search unit spends the budget: that answer is not verified, the run ends
            script.append(verdict("CONTINUE"))
    backend = ScriptedBackend(script)
    result = await Agent(backend, tools=web, strategy=BatsStrategy(), limits="search=8,browse=8").run("q?")
    assert result.answer == "Lima" and result.usage.tool("search") == 8
    assert result.notes[0].startswith("attempt 1: no answer")
    assert sum("→ CONTINUE" in n for n in result.notes) == 6  # attempts 2-7 verified; the 8th spent the budget
    backend.assert_complete()
    # thrifty's option: a cap on attempts.
    backend = ScriptedBackend([call("search", query=["a"]), "<answer>Lima</answer>", verdict("CONTINUE")])
    strategy = BatsStrategy(max_attempts=1)
    result = await Agent(backend, tools=web, strategy=strategy, limits="search=8,browse=8").run("q?")
    assert result.answer == "Lima" and result.usage.tool("search") == 1


async def test_bats_attempts_that_spend_nothing_limited_end_after_a_few(web: list) -> None:
    """Only tool units limited and a model that answers without tools: no attempt brings a limit
    closer, so the paper's rule would never end; thrifty stops after UNLIMITED_ATTEMPTS of them."""
    backend = ScriptedBackend(["<answer>Paris</answer>", verdict("CONTINUE")] * 10)
    result = await Agent(backend, tools=web, strategy=BatsStrategy(), limits="search=1,browse=1").run("q?")
    assert result.answer == "Paris" and sum("→ CONTINUE" in n for n in result.notes) == UNLIMITED_ATTEMPTS


async def test_point8_bats_verifier_sees_whole_steps(web: list) -> None:
    long_thought = "I considered " + "many things " * 60 + "END-OF-THOUGHT"
    backend = ScriptedBackend([long_thought + " <answer>Lima</answer>", verdict("SUCCESS")])
    await Agent(backend, tools=web, strategy=BatsStrategy(early_stop=True), limits="search=3,browse=3").run("q?")
    assert "END-OF-THOUGHT" in backend.requests[1].messages[0].content
    backend = ScriptedBackend([long_thought + " <answer>Lima</answer>", verdict("SUCCESS")])
    strategy = BatsStrategy(early_stop=True, trajectory_chars=400)  # thrifty's option: cut each step
    await Agent(backend, tools=web, strategy=strategy, limits="search=3,browse=3").run("q?")
    assert "END-OF-THOUGHT" not in backend.requests[1].messages[0].content


async def test_point8_sequential_counts_five_refusals_even_when_the_answer_repeats(web: list) -> None:
    """BATS §5.1: prompting stops once the agent refuses tools five times (identical answers included)."""
    backend = ScriptedBackend(["<answer>Paris</answer>"] * 5)
    result = await Agent(backend, tools=web, strategy=SequentialStrategy(), limits="search=9").run("q")
    assert result.answer == "Paris" and result.usage.requests == 5
    assert sum("Wait, you still have remaining tool budget" in r.messages[-1].content for r in backend.requests) == 4
    backend.assert_complete()


async def test_point8_best_of_n_judge_sees_whole_trajectories(web: list) -> None:
    from thrifty.agents.controller import LoopConfig
    from thrifty.agents.strategies import ParallelStrategy

    def reply(request: ChatRequest) -> str:
        if "expert evaluator" in request.messages[0].content:
            return "Answer: \\boxed{B}"
        if request.seed == 0:
            return "<answer>X</answer>"
        return ("FIRST-STEP " * 80) if len(request.messages) == 2 else "<answer>Y</answer>"

    backend = ScriptedBackend([reply] * 5)
    strategy = ParallelStrategy(n=2, aggregate="best_of_n")
    result = await Agent(backend, tools=web, strategy=strategy, limits="search=4", config=LoopConfig(seed=0)).run("q")
    judge_prompt = backend.requests[-1].messages[0].content
    assert result.answer == "Y" and judge_prompt.count("FIRST-STEP") == 80


def _sample(task: str, correct: bool, input_tokens: int, output_tokens: int, strategy: str = "s") -> object:
    from thrifty.evals.log import SampleLog

    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    return SampleLog(task, strategy, "b", "q", "a", "a", correct, "answered", None, usage, 0.0, 1.0)


def test_point2_e3_divides_by_decoded_tokens() -> None:
    """Plan-and-Budget's E³ = A²/T with T the decoded tokens; an agent's prompt tokens are not in T."""
    from thrifty.evals.report import markdown, summarize

    samples = [_sample("t1", True, 9000, 100), _sample("t2", False, 9000, 300)]
    [row] = summarize(samples)  # type: ignore[arg-type]
    assert row.mean_output_tokens == 200 and row.mean_tokens == 9200
    assert row.e3 == pytest.approx(0.5**2 / 200)
    assert "E³ (acc²/decoded tokens)" in markdown([row])


def test_point7_particle_filter_answers_with_the_best_scoring_particle() -> None:
    """Puri et al. / its_hub return the argmax-weight particle; a weighted vote is thrifty's option."""
    from thrifty.agents.particles import FilterSettings, Particle, ParticleFilterStrategy, epf_settings

    particles = [Particle(steps=["\\boxed{5}"], scores=[0.8]) for _ in range(3)]
    particles.append(Particle(steps=["\\boxed{8}"], scores=[0.9]))
    assert ParticleFilterStrategy(FilterSettings()).select(particles)[0] == "8"
    assert ParticleFilterStrategy(epf_settings(4)).select(particles)[0] == "8"
    # Three particles at logit(0.8) outweigh one at logit(0.9) in a probability-weighted vote.
    assert ParticleFilterStrategy(FilterSettings(selection="vote")).select(particles)[0] == "5"
    assert ParticleFilterStrategy(FilterSettings()).select([Particle(steps=["no answer"])])[0] is None


def test_point8_epf_horizon_is_its_hubs() -> None:
    """T_max = 32 (its_hub ``max_steps``); it sets how long Entropic Annealing's early phase lasts."""
    from thrifty.agents.particles import FilterSettings, epf_settings
    from thrifty.agents.particles.weights import annealing_temperature

    assert FilterSettings().max_steps == 32 and epf_settings(4).max_steps == 32
    collapsed = [0.97, 0.01, 0.01, 0.01]
    # Step 10 of 32 is still early (10/32 < 0.5): annealed. Under the old T_max = 12 it would not be.
    assert annealing_temperature(collapsed, 10, 32) > 1.0
    assert annealing_temperature(collapsed, 10, 12) == 1.0


async def test_point3_plan_and_budget_solves_in_one_call_with_soft_word_budgets(web: list) -> None:
    """The official solve prompt: one call, each sub-question "... using up to N words", B by level."""
    from thrifty.agents.strategies.schedules import allocate

    backend = ScriptedBackend(
        [
            "1. Which country is Paris in?\nHint: search.\n2. What is its capital?\nHint: answer.",
            json.dumps({"problem": {"evaluated_level": 2}, "1": {"credit": 60}, "2": {"credit": 40}}),
            "<answer>Paris</answer>",
        ]
    )
    result = await Agent(backend, tools=web, strategy="plan-budget", limits="tokens=20000,search=4").run("Q?")
    assert result.answer == "Paris" and result.usage.requests == 3
    words = allocate(250, [60, 40], "polynomial")  # level 2 → B = 250 words (official level map)
    assert words == [215, 35]
    prompt = backend.requests[2].messages[-1].content
    assert f"using up to {words[0]} words." in prompt and f"using up to {words[1]} words." in prompt
    assert "feel free to use other methods" in prompt and prompt.rstrip().endswith("Question: Q?")
    assert {e.ledger for e in result.ledger} == {"run"}  # no capped child ledgers
    backend.assert_complete()


def test_point4_thinking_levels_are_distinct_requests() -> None:
    """Without a server budget low/medium/high differ (forcing budgets), and the step cap leaves room
    for the thinking where it happens inside the reply."""
    from thrifty.agents.thinking import THINKING_TOKENS, ThinkingMode, needs_forcing, thinking_request
    from thrifty.backends import Message, profile_for
    from thrifty.backends.profiles import ModelProfile

    request = ChatRequest(messages=(Message("user", "q"),), max_tokens=768)
    qwen3_llamacpp = profile_for("Qwen/Qwen3-8B")  # no server-side budget: budget forcing, per level
    assert all(needs_forcing(qwen3_llamacpp, m) for m in (ThinkingMode.LOW, ThinkingMode.MEDIUM, ThinkingMode.HIGH))
    assert len({THINKING_TOKENS[m] for m in ThinkingMode}) == 4
    server_budget = ModelProfile(
        family="qwen3", think_tags=True, thinking="enable_thinking", thinking_token_budget=True
    )
    caps = [thinking_request(request, server_budget, m).max_tokens for m in ThinkingMode]
    assert caps == [768, 768 + 512, 768 + 2048, 768 + 8192]
    effort = profile_for("openai/gpt-oss-20b")
    assert thinking_request(request, effort, ThinkingMode.HIGH).max_tokens == 768 + 8192


async def test_point4_r1_at_none_keeps_a_closed_think_block() -> None:
    """R1/QwQ cannot switch thinking off: ``none`` (the CRITICAL step-down) prefills NoThinking's closed block."""
    from thrifty.agents.controller import LoopConfig
    from thrifty.agents.thinking import NO_THINKING
    from thrifty.backends import profile_for

    backend = ScriptedBackend(["<answer>7</answer>"], profile=profile_for("deepseek-r1-distill-qwen-7b"))
    result = await Agent(backend, config=LoopConfig(thinking="none")).run("q")
    assert result.answer == "7" and len(backend.requests) == 1
    last = backend.requests[0].messages[-1]
    assert last.role == "assistant" and last.content == "<think>\n" + NO_THINKING


async def test_point4_a_model_without_thinking_gets_a_prompted_think_block_per_level() -> None:
    """The dial is no silent no-op on models with no thinking mode (the embedded Qwen2.5-Coder): the
    system prompt asks for a <think> block, budget forcing caps it at the level's budget, and the
    level's waits (s1) extend an early stop, so a model that stops thinking under every cap still
    thinks longer at higher levels. A JSON-protocol answer is a new turn after the closed block (a
    grammar cannot continue a free-text prefill: llama-server answers HTTP 400)."""
    from thrifty.agents.controller import LoopConfig
    from thrifty.agents.thinking import THINK_CHUNK, THINKING_TOKENS, THINKING_WAITS, ThinkingMode

    assert [THINKING_WAITS[ThinkingMode(lv)] for lv in ("none", "low", "medium", "high")] == [0, 0, 2, 4]
    for level in ("low", "medium", "high"):
        waits = THINKING_WAITS[ThinkingMode(level)]
        script = [f"thought {i}" for i in range(waits + 1)] + ['{"answer": "7"}']
        backend = ScriptedBackend(script, tool_protocol="json")
        result = await Agent(backend, config=LoopConfig(thinking=level)).run("q")  # type: ignore[arg-type]
        *thinks, answer = backend.requests
        assert len(thinks) == waits + 1
        assert "think step by step inside <think>" in thinks[0].messages[0].content
        assert thinks[0].messages[-1].content == "<think>\n" and thinks[0].stop == ("</think>",)
        assert thinks[0].max_tokens == min(THINK_CHUNK, THINKING_TOKENS[ThinkingMode(level)])
        assert thinks[0].response_format is None
        assert all(t.messages[-1].content.endswith("Wait") for t in thinks[1:])
        assert answer.response_format is not None  # the answer keeps the JSON protocol's schema
        block, ask = answer.messages[-2:]
        assert block.role == "assistant" and block.content.startswith("<think>") and block.content.endswith("</think>")
        assert ask.role == "user" and "required format" in ask.content
        assert result.answer == "7" and result.usage.reasoning_tokens > 0
    backend = ScriptedBackend(['{"answer": "7"}'], tool_protocol="json")
    await Agent(backend, config=LoopConfig(thinking="none")).run("q")
    assert len(backend.requests) == 1 and "<think>" not in backend.requests[0].messages[0].content
