"""Thinking dials: per-profile mapping, budget forcing, adaptive stepping, difficulty probe."""

from __future__ import annotations

import math

import pytest

from thrifty.agents.agent import Agent
from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import ignore_events
from thrifty.agents.thinking import (
    END_THINKING,
    ThinkingMode,
    dial_for_budget,
    force_thinking_budget,
    mode_for_difficulty,
    needs_forcing,
    probe_difficulty,
    thinking_request,
)
from thrifty.backends import ChatRequest, Message, ScriptedBackend, profile_for
from thrifty.backends.base import Completion, TokenLogprob
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import Ledger, Limits, Usage

REQ = ChatRequest(messages=(Message("user", "q"),), max_tokens=100)


def test_qwen3_switch_and_vllm_budget() -> None:
    qwen3 = profile_for("Qwen/Qwen3-8B")
    off = thinking_request(REQ, qwen3, ThinkingMode.NONE)
    assert off.extra_body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "thinking_token_budget" not in off.extra_body
    vllm_qwen3 = ModelProfile(family="qwen3", thinking="enable_thinking", thinking_token_budget=True)
    high = thinking_request(REQ, vllm_qwen3, ThinkingMode.HIGH)
    assert high.extra_body == {"chat_template_kwargs": {"enable_thinking": True}, "thinking_token_budget": 8192}
    assert thinking_request(REQ, vllm_qwen3, ThinkingMode.LOW, budget=77).extra_body["thinking_token_budget"] == 77


def test_reasoning_effort_and_defaults() -> None:
    gpt_oss = profile_for("openai/gpt-oss-20b")
    assert thinking_request(REQ, gpt_oss, ThinkingMode.NONE).extra_body == {"reasoning_effort": "low"}
    assert thinking_request(REQ, gpt_oss, ThinkingMode.MEDIUM).extra_body == {"reasoning_effort": "medium"}
    assert thinking_request(REQ, profile_for("llama-3-8b"), ThinkingMode.HIGH).extra_body == {}
    r1 = profile_for("deepseek-r1-distill-qwen-7b")
    assert needs_forcing(r1, ThinkingMode.LOW) and needs_forcing(r1, ThinkingMode.NONE)  # NONE: NoThinking prefill
    assert not needs_forcing(
        ModelProfile(family="r1", thinking="think_tags", thinking_token_budget=True), ThinkingMode.LOW
    )


async def test_forcing_closes_the_think_block_at_the_budget() -> None:
    long_thought = " ".join(f"step{i}" for i in range(200))

    def answer(request: ChatRequest) -> str:
        last = request.messages[-1]
        assert last.role == "assistant" and last.content.endswith(END_THINKING)
        return last.content + "Final: 42"  # llama-server echoes the prefill; only the continuation is kept

    backend = ScriptedBackend([long_thought, answer], profile=profile_for("deepseek-r1"))
    ledger = Ledger()
    caller = ModelCaller(backend, ledger, ignore_events)
    completion = await force_thinking_budget(caller, REQ, budget=20)
    first = backend.requests[0]
    assert first.max_tokens == 20 and first.stop == ("</think>",)
    assert first.messages[-1].content == "<think>\n"
    assert completion.text == "Final: 42"
    assert completion.reasoning and completion.reasoning.startswith("step0")
    assert completion.usage.reasoning_tokens == 20
    assert ledger.used.reasoning_tokens == 20 and ledger.used.requests == 2


async def test_wait_extends_thinking_below_the_minimum() -> None:
    backend = ScriptedBackend(["short", "more thoughts", "the answer"], profile=profile_for("deepseek-r1"))
    caller = ModelCaller(backend, Ledger(), ignore_events)
    completion = await force_thinking_budget(caller, REQ, budget=500, min_tokens=50, max_waits=1)
    assert backend.requests[1].messages[-1].content == "<think>\nshort\nWait"
    assert backend.requests[2].messages[-1].content.endswith("\n</think>\n\n")
    assert completion.text == "the answer"


async def test_thinking_the_server_returns_as_reasoning_reaches_the_answer() -> None:
    """llama-server hands a thinking phase back as reasoning holding the whole block (the prefill
    too) and no text; vLLM's parser as reasoning holding the continuation alone. Either way each
    phase and the answer continue the whole thought, once."""

    def whole_block(words: str) -> Completion:
        return Completion(text="", model="m", usage=Usage(requests=1, output_tokens=5), reasoning=words)

    llama = ScriptedBackend([whole_block("a is 5."), whole_block("a is 5.\nWait, b is 2."), "3"])
    caller = ModelCaller(llama, Ledger(), ignore_events)
    completion = await force_thinking_budget(caller, REQ, budget=500, min_tokens=50, max_waits=1)
    assert llama.requests[1].messages[-1].content == "<think>\na is 5.\nWait"
    assert llama.requests[2].messages[-1].content == "<think>\na is 5.\nWait, b is 2.\n</think>\n\n"
    assert completion.reasoning == "a is 5.\nWait, b is 2."
    vllm = ScriptedBackend([whole_block("a is 5."), whole_block(", b is 2."), "3"])
    await force_thinking_budget(ModelCaller(vllm, Ledger(), ignore_events), REQ, budget=500, min_tokens=50, max_waits=1)
    assert vllm.requests[2].messages[-1].content == "<think>\na is 5.\nWait, b is 2.\n</think>\n\n"


async def test_a_long_thinking_phase_goes_out_in_chunks_that_continue_it() -> None:
    """A phase longer than THINK_CHUNK is several requests, each continuing the thought (no "Wait"
    between them), so no single request outlives a CPU server's timeout; the budget still caps the
    total and the block is closed as over budget."""
    from thrifty.agents.thinking import THINK_CHUNK

    def chunk(words: str, tokens: int) -> Completion:
        usage = Usage(requests=1, output_tokens=tokens)
        return Completion(text=words, model="m", usage=usage, finish_reason="length")

    budget = 2 * THINK_CHUNK + 100
    backend = ScriptedBackend([chunk("a b", THINK_CHUNK), chunk(" c d", THINK_CHUNK), chunk(" e", 100), "42"])
    ledger = Ledger()
    completion = await force_thinking_budget(
        ModelCaller(backend, ledger, ignore_events), REQ, budget, min_tokens=budget, max_waits=2
    )
    *phases, answer = backend.requests
    assert [p.max_tokens for p in phases] == [THINK_CHUNK, THINK_CHUNK, 100]
    assert [p.messages[-1].content for p in phases] == ["<think>\n", "<think>\na b", "<think>\na b c d"]
    assert answer.messages[-1].content == "<think>\na b c d e" + END_THINKING
    assert completion.text == "42" and ledger.used.reasoning_tokens == budget


async def test_thinking_stops_while_the_token_limit_still_covers_the_answer() -> None:
    """Under a token limit the thought is closed (as over budget) once another chunk and the answer
    no longer both fit: the run ends with an answer, not out of tokens mid-thought."""
    from thrifty.agents.thinking import THINK_CHUNK

    thought = Completion(
        text="a b",
        model="m",
        usage=Usage(requests=1, input_tokens=100, output_tokens=THINK_CHUNK),
        finish_reason="length",
    )
    backend = ScriptedBackend([thought, "42"])
    ledger = Ledger(Limits(total_tokens=5000))
    budget = 8 * THINK_CHUNK
    completion = await force_thinking_budget(
        ModelCaller(backend, ledger, ignore_events), REQ, budget, min_tokens=budget, max_waits=4
    )
    assert len(backend.requests) == 2 and backend.requests[1].messages[-1].content.endswith(END_THINKING)
    assert completion.text == "42" and ledger.used.total_tokens <= 5000
    roomy = ScriptedBackend([thought, thought, "42"])
    await force_thinking_budget(ModelCaller(roomy, Ledger(), ignore_events), REQ, 2 * THINK_CHUNK)
    assert len(roomy.requests) == 3  # no limit: the whole budget is thought through


def test_dial_steps_down_with_the_budget_regime() -> None:
    ledger = Ledger(Limits(tools={"search": 10}))
    assert dial_for_budget(ThinkingMode.HIGH, ledger.view()) is ThinkingMode.HIGH
    ledger.spend_tool("search", 5)
    assert dial_for_budget(ThinkingMode.HIGH, ledger.view()) is ThinkingMode.MEDIUM
    ledger.spend_tool("search", 3)
    assert dial_for_budget(ThinkingMode.HIGH, ledger.view()) is ThinkingMode.LOW
    ledger.spend_tool("search", 2)
    assert dial_for_budget(ThinkingMode.HIGH, ledger.view()) is ThinkingMode.NONE
    assert [mode_for_difficulty(i) for i in range(1, 6)] == ["none", "low", "medium", "high", "high"]


async def test_difficulty_probe_reads_the_rating_and_its_entropy() -> None:
    top = (("4", math.log(0.5)), ("3", math.log(0.5)))
    rated = Completion(
        text="4",
        model="s",
        usage=Usage(requests=1, input_tokens=5, output_tokens=1),
        logprobs=(TokenLogprob("4", math.log(0.5), top),),
    )
    caller = ModelCaller(ScriptedBackend([rated, "no idea"]), Ledger(), ignore_events)
    level, entropy = await probe_difficulty(caller, "q")
    assert level == 4 and entropy == pytest.approx(math.log(2))
    assert (await probe_difficulty(caller, "q"))[0] == 3


async def test_agent_with_a_thinking_dial_charges_reasoning_tokens() -> None:
    backend = ScriptedBackend(["thinking " * 50, "<answer>7</answer>"], profile=profile_for("deepseek-r1"))
    agent = Agent(backend, config=LoopConfig(thinking="low"))
    result = await agent.run("q")
    assert result.answer == "7"
    assert result.usage.reasoning_tokens > 0
    assert result.steps[0].reasoning
    qwen = ScriptedBackend(["<answer>8</answer>"], profile=profile_for("qwen3-8b"))
    await Agent(qwen, config=LoopConfig(thinking="none")).run("q")
    assert qwen.requests[0].extra_body["chat_template_kwargs"] == {"enable_thinking": False}


def test_none_on_a_think_tag_model_with_a_server_budget_keeps_a_zero_cap() -> None:
    """R1/QwQ cannot switch thinking off: at ``none`` (the CRITICAL step-down) a server that honours
    ``thinking_token_budget`` gets a zero budget, never an uncapped call; Qwen3 switches it off instead."""
    served = ModelProfile(family="r1", think_tags=True, thinking="think_tags", thinking_token_budget=True)
    assert thinking_request(REQ, served, ThinkingMode.NONE).extra_body == {"thinking_token_budget": 0}
    assert not needs_forcing(served, ThinkingMode.NONE)
    qwen3 = ModelProfile(family="qwen3", thinking="enable_thinking", thinking_token_budget=True)
    assert "thinking_token_budget" not in thinking_request(REQ, qwen3, ThinkingMode.NONE).extra_body


async def test_the_dial_reaches_the_sampling_baselines() -> None:
    """``LoopConfig.thinking`` is honoured by greedy/self-consistency/best-of-N as by an agent step:
    each solution is thought out in a forced think block first, and the solution is the reply after
    it (a continuation: the math solver has no response format). Without a dial: one plain call."""
    from thrifty.agents.particles import GreedyStrategy
    from thrifty.agents.thinking import THINKING_WAITS

    waits = THINKING_WAITS[ThinkingMode.MEDIUM]
    thoughts = [f"thought {i}" for i in range(waits + 1)]
    backend = ScriptedBackend([*thoughts, "So 5 - 2 = 3.\n\nThe answer is \\boxed{3}"])
    config = LoopConfig(thinking="medium")
    result = await Agent(backend, strategy=GreedyStrategy(), config=config).run("Q?")
    *thinks, answer = backend.requests
    assert len(thinks) == waits + 1 and "<think>" in thinks[0].messages[0].content
    assert answer.messages[-1].role == "assistant" and answer.messages[-1].content.endswith("</think>\n\n")
    assert result.answer == "3" and result.usage.reasoning_tokens > 0
    plain = ScriptedBackend(["The answer is \\boxed{3}"])
    assert (await Agent(plain, strategy=GreedyStrategy()).run("Q?")).answer == "3" and len(plain.requests) == 1


async def test_a_reply_without_an_answer_keeps_the_answer_worked_out_in_the_thought() -> None:
    """The 0.5B often solves the problem to its boxed answer inside the prompted block and then only
    comments on it: the solution is then the thought followed by the reply, not a comment to conclude
    from. A reply that states an answer stays the solution."""
    from thrifty.agents.particles import GreedyStrategy

    solved = "5 - 2 = 3, so the answer is \\boxed{3}."
    backend = ScriptedBackend([solved, "This solution is clear and efficient."])
    result = await Agent(backend, strategy=GreedyStrategy(), config=LoopConfig(thinking="low")).run("Q?")
    assert result.answer == "3" and len(backend.requests) == 2  # no conclude call
    replied = ScriptedBackend([solved, "Therefore, the final answer is: $\\boxed{4}$."])
    assert (await Agent(replied, strategy=GreedyStrategy(), config=LoopConfig(thinking="low")).run("Q?")).answer == "4"


async def test_a_dialled_sample_the_server_switches_is_traced_as_a_sample() -> None:
    """A baseline's solution keeps its trace label through the dial when no forcing is needed (the
    server switches thinking itself): "sample", as without a dial, not the agent step's "agent"."""
    from thrifty.agents.events import Event, ModelCalled
    from thrifty.agents.particles import GreedyStrategy

    events: list[Event] = []
    backend = ScriptedBackend(["The answer is \\boxed{3}"], profile=profile_for("qwen3-8b"))
    agent = Agent(backend, strategy=GreedyStrategy(), config=LoopConfig(thinking="none"))
    result = await agent.run("Q?", on_event=events.append)
    assert result.answer == "3"
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["sample"]
    assert backend.requests[0].extra_body["chat_template_kwargs"] == {"enable_thinking": False}
