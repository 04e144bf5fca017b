"""Where vLLM and llama-server differ, the backend makes them look alike (issue 16 point 5).

Each difference is also checked against a real vLLM in tests/vllm; these pin the request shapes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from thrifty.agents.calls import ModelCaller
from thrifty.agents.events import ignore_events
from thrifty.backends import ChatRequest, Message, ScriptedBackend
from thrifty.backends.base import Completion, without_echoed_prefill
from thrifty.backends.openai_compat import OpenAICompatBackend
from thrifty.budget import Ledger, Limits, Usage

PREFILL = (Message("user", "q"), Message("assistant", "<think>\nso"))


@pytest.fixture
async def backend() -> OpenAICompatBackend:
    b = OpenAICompatBackend("http://127.0.0.1:9/v1", "m")
    yield b  # type: ignore[misc]
    await b.aclose()


async def test_a_final_assistant_message_is_continued(backend: OpenAICompatBackend) -> None:
    body = backend._kwargs(ChatRequest(messages=PREFILL))
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    plain = backend._kwargs(ChatRequest(messages=PREFILL[:1]))
    assert "continue_final_message" not in plain and "add_generation_prompt" not in plain


async def test_no_prefill_fields_for_a_server_without_them(backend: OpenAICompatBackend) -> None:
    backend._server_kind = "none"  # found by the token counter: no /tokenize, e.g. the OpenAI API
    assert "continue_final_message" not in backend._kwargs(ChatRequest(messages=PREFILL))


def test_an_echoed_prefill_is_stripped_and_a_bare_continuation_kept() -> None:
    def completion(text: str) -> Completion:
        return Completion(text=text, model="m", usage=Usage())

    assert without_echoed_prefill(completion("<think>\nso it is 4"), PREFILL).text == " it is 4"  # llama-server
    assert without_echoed_prefill(completion(" it is 4"), PREFILL).text == " it is 4"  # vLLM
    assert without_echoed_prefill(completion("<think>\nso"), PREFILL[:1]).text == "<think>\nso"


async def test_n_samples_reserve_n_times_the_output() -> None:
    """``n`` samples may each write ``max_tokens``: a budget that covers one sample only clips them."""
    backend = ScriptedBackend(["a", "b", "c", "d"])  # a scripted n = 4 request takes a step per choice
    ledger = Ledger(Limits(output_tokens=100))
    caller = ModelCaller(backend, ledger, ignore_events)
    reply = await caller(ChatRequest(messages=PREFILL[:1], max_tokens=80, n=4), step=0)
    assert backend.requests[0].max_tokens == 25 and backend.requests[0].n == 4
    assert reply.samples == ("a", "b", "c", "d") and reply.usage.requests == 1


async def test_n_is_sent_and_every_choice_read(backend: OpenAICompatBackend) -> None:
    from thrifty.backends.replies import parse_completion

    request = ChatRequest(messages=PREFILL[:1], n=2)
    assert backend._kwargs(request)["n"] == 2 and "n" not in backend._kwargs(ChatRequest(messages=PREFILL[:1]))
    body = {
        "choices": [{"message": {"content": "x"}}, {"message": {"content": "y"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    completion = parse_completion(body, request, backend.profile, "m")
    assert completion.text == "x" and completion.samples == ("x", "y") and completion.usage.output_tokens == 2


def test_a_server_that_counts_only_the_first_choice_is_charged_every_choice() -> None:
    """llama-server answers ``n = 3`` with the first choice's completion tokens only (measured: 9
    reported, 9 + 12 + 2 generated). The charge is the choices' own counts: their logprob entries
    (exact) or, without logprobs, an estimate from their text (said so). A server that reports the
    sum, as vLLM does, is taken at its word."""
    from thrifty.backends.profiles import ModelProfile
    from thrifty.backends.replies import parse_completion

    def choice(text: str, tokens: int | None) -> dict[str, object]:
        entries = [{"token": "t", "logprob": -0.1, "top_logprobs": []}] * (tokens or 0)
        return {"message": {"content": text}, "logprobs": {"content": entries} if tokens else None}

    request = ChatRequest(messages=PREFILL[:1], n=3, logprobs=True)
    usage = {"prompt_tokens": 33, "completion_tokens": 9}
    first_only = {"choices": [choice("a", 9), choice("b", 12), choice("c", 2)], "usage": usage}
    counted = parse_completion(first_only, request, ModelProfile("qwen2.5"), "m")
    assert (counted.usage.input_tokens, counted.usage.output_tokens, counted.usage_estimated) == (33, 23, False)
    assert [len(lp or ()) for lp in counted.sample_logprobs] == [9, 12, 2] and counted.logprobs is not None
    assert counted.logprobs == counted.sample_logprobs[0]
    summed = {"choices": [choice("a", 9), choice("b", 12), choice("c", 2)], "usage": {**usage, "completion_tokens": 23}}
    assert parse_completion(summed, request, ModelProfile("qwen2.5"), "m").usage.output_tokens == 23
    texts = {"choices": [choice("one two three four", None)] * 3, "usage": {**usage, "completion_tokens": 4}}
    estimated = parse_completion(texts, replace(request, logprobs=False), ModelProfile("qwen2.5"), "m")
    assert estimated.usage.output_tokens > 4 and estimated.usage_estimated


def test_max_tokens_is_clipped_to_a_known_context() -> None:
    from thrifty.backends.openai_compat import clip_to_context

    request = ChatRequest(messages=PREFILL[:1], max_tokens=40_000)
    assert clip_to_context(request, 2048).max_tokens == 2048
    assert clip_to_context(request, None).max_tokens == 40_000
    assert clip_to_context(ChatRequest(messages=PREFILL[:1], max_tokens=100), 2048).max_tokens == 100


def test_every_choice_of_a_continued_prefill_is_the_continuation_alone() -> None:
    """llama-server echoes the assistant prefill at the start of each choice of an ``n > 1`` reply
    (seen on the embedded server: four particle drafts each began with the partial solution).
    Every sample is the continuation alone, and the text estimate of its tokens leaves the echo out."""
    from thrifty.backends.profiles import ModelProfile
    from thrifty.backends.replies import parse_completion

    messages = (Message("user", "q"), Message("assistant", "Step 1: so"))
    request = ChatRequest(messages=messages, n=2)
    prefill = messages[-1].content
    body = {
        "choices": [{"message": {"content": prefill + " one"}}, {"message": {"content": prefill + " two three"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }
    completion = without_echoed_prefill(parse_completion(body, request, ModelProfile("qwen2.5"), "m"), messages)
    assert completion.text == " one" and completion.samples == (" one", " two three")
    assert completion.usage.output_tokens <= 4  # the two continuations, not the echoed prefill twice
