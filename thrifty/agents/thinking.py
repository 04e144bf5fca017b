"""Thinking-mode dials: one portable setting (none/low/medium/high), mapped per model family.

- Qwen3-style templates: ``chat_template_kwargs.enable_thinking`` (off for ``none``), plus vLLM's
  hard ``thinking_token_budget`` where the server supports it (``ModelProfile.thinking_token_budget``).
- gpt-oss / o-series: ``reasoning_effort`` low/medium/high (``none`` maps to ``low``: it cannot be off).
- Models that think in ``<think>`` tags (R1/QwQ, and Qwen3 with thinking on) on servers without a
  budget: portable budget forcing (s1, arXiv 2501.19393): generate the thinking with
  ``max_tokens = budget`` and ``</think>`` as a stop; if the budget runs out, close the block with
  a transition phrase and generate the answer as a continuation; ``min_tokens`` extends early
  stops with "Wait". So low/medium/high are distinct requests on every server. ``none`` on a model
  that cannot switch thinking off (R1/QwQ) prefills a closed think block ("NoThinking", Ma et al.
  2025, arXiv 2504.09858), so stepping down to ``none`` never lifts the cap.
- Models with no thinking mode of their own (e.g. the embedded Qwen2.5-Coder): the system prompt
  asks for a ``<think>`` block, and budget forcing caps it per level (a prompted think block).
- When the model thinks inside its reply (a server-side budget, ``enable_thinking``,
  ``reasoning_effort``), the step's ``max_tokens`` grows by the mode's budget: a step cap of 768
  tokens must not cut medium and high off before their budgets matter.
- The adaptive dial picks a mode per question from a cheap difficulty probe and steps it down per
  step as the budget regime falls (HIGH → as set, MEDIUM → one lower, LOW → two lower, CRITICAL → none).

Reasoning tokens are charged separately: thinking-phase output is recorded as ``reasoning_tokens``.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from enum import StrEnum

from thrifty.agents.calls import ModelCaller
from thrifty.agents.prompts import load_prompt
from thrifty.backends.base import ChatRequest, Completion, Message, TokenCount
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import BudgetView, Regime, Usage


class ThinkingMode(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    def lower(self, steps: int = 1) -> ThinkingMode:
        order = list(ThinkingMode)
        return order[max(0, order.index(self) - steps)]


THINKING_TOKENS = {ThinkingMode.NONE: 0, ThinkingMode.LOW: 512, ThinkingMode.MEDIUM: 2048, ThinkingMode.HIGH: 8192}
"""Default thinking budgets per mode (ThinkDial's medium/low ≈ 50% / 25% of high, rounded)."""
THINKING_WAITS = {ThinkingMode.NONE: 0, ThinkingMode.LOW: 0, ThinkingMode.MEDIUM: 2, ThinkingMode.HIGH: 4}
"""Under budget forcing, how often an early end of thinking is suppressed with "Wait" per mode (s1
scales thinking up by suppressing it 2, 4 and 6 times). A cap alone makes no levels on a model that
stops thinking well under every cap (the 0.5B thinks ~100 tokens): the waits are what make medium and
high think longer than low."""
END_THINKING = (
    "\n\nConsidering the limited time, I have to give the solution based on the thinking directly now.\n</think>\n\n"
)
OPEN_THINKING = "<think>\n"
NO_THINKING = "Okay, I think I have finished thinking.\n</think>\n\n"
"""The closed think block of NoThinking (Ma et al. 2025): the model answers without thinking."""


def thinking_request(
    request: ChatRequest, profile: ModelProfile, mode: ThinkingMode, budget: int | None = None
) -> ChatRequest:
    """``request`` with the server-side controls for ``mode`` that this model family understands."""
    budget = THINKING_TOKENS[mode] if budget is None else budget
    if profile.thinking == "none" and mode is not ThinkingMode.NONE:
        request = replace(request, messages=_with_think_prompt(request.messages))
    extra = dict(request.extra_body)
    if profile.thinking == "enable_thinking":
        kwargs = dict(extra.get("chat_template_kwargs", {}))
        kwargs["enable_thinking"] = mode is not ThinkingMode.NONE
        extra["chat_template_kwargs"] = kwargs
    elif profile.thinking == "reasoning_effort":
        extra["reasoning_effort"] = "low" if mode in (ThinkingMode.NONE, ThinkingMode.LOW) else mode.value
    capped = mode is not ThinkingMode.NONE or profile.thinking == "think_tags"  # R1/QwQ cannot switch it off
    if profile.thinking_token_budget and profile.thinking != "reasoning_effort" and capped:
        extra["thinking_token_budget"] = budget
    max_tokens = request.max_tokens
    if max_tokens is not None and _thinks_in_reply(profile, mode):
        max_tokens += budget  # the thinking comes out of the same reply: the step cap must leave room for it
    return replace(request, extra_body=extra, max_tokens=max_tokens)


def _with_think_prompt(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """The prompted think block's instruction, added to the system message (or as one)."""
    hint = load_prompt("think_prompted").render()
    if messages and messages[0].role == "system":
        first = messages[0]
        return (replace(first, content=f"{first.content}\n\n{hint}"), *messages[1:])
    return (Message("system", hint), *messages)


def _thinks_in_reply(profile: ModelProfile, mode: ThinkingMode) -> bool:
    if profile.thinking == "reasoning_effort":
        return True
    return profile.thinking != "none" and mode is not ThinkingMode.NONE and not needs_forcing(profile, mode)


def needs_forcing(profile: ModelProfile, mode: ThinkingMode) -> bool:
    """Client-side budget forcing: think-tag models (R1/QwQ, Qwen3 with thinking on) on servers
    without a hard budget; R1/QwQ at ``none``, which only a prefilled closed block stops thinking;
    and models with no thinking mode at all (a prompted think block)."""
    if profile.thinking == "none":  # no thinking mode of its own: a prompted think block, forced
        return mode is not ThinkingMode.NONE
    if profile.thinking_token_budget or not profile.think_tags:
        return False
    if profile.thinking == "think_tags":
        return True
    return profile.thinking == "enable_thinking" and mode is not ThinkingMode.NONE


THINK_CHUNK = 1024
"""The most thinking tokens one request asks for. A long phase goes out as continuations of this
size: each request then ends within the client's timeout on a CPU server (a 8,192-token phase of the
0.5B at four slots took longer than the 300 s timeout, so every ``high`` sample failed), and the
ledger checks the budget between them."""


async def force_thinking_budget(
    caller: ModelCaller, request: ChatRequest, budget: int, *, step: int = 0, min_tokens: int = 0, max_waits: int = 2
) -> Completion:
    """Think for at most ``budget`` tokens (at least ``min_tokens``), then answer. Both phases are charged.
    A budget of 0 answers at once after a closed think block (NoThinking)."""
    thinking, phase_usage, finish, waits = "", Usage(), "stop", 0
    while budget > 0:
        phase = replace(  # free text: no tools and no JSON schema while it thinks
            request,
            messages=(*request.messages, Message("assistant", OPEN_THINKING + thinking)),
            max_tokens=max(1, min(THINK_CHUNK, budget - phase_usage.output_tokens)),
            stop=("</think>",),
            tools=(),
            response_format=None,
        )
        c = await caller(phase, step=step, purpose="think", reasoning_output=True)
        thinking, phase_usage, finish = _thought_after(thinking, c), phase_usage + c.usage, c.finish_reason
        if finish == "length":
            if phase_usage.output_tokens >= budget or c.usage.output_tokens == 0:
                break  # the budget is spent (or the server makes no progress)
        elif phase_usage.output_tokens >= min_tokens or waits == max_waits:
            break
        if not _room_to_think_on(caller, c.usage, request):
            finish = "length"  # the token limit covers the answer, not more thinking: close the block now
            break
        if finish != "length":  # a chunk of a longer phase carries on as it is
            waits += 1
            thinking += "\nWait"  # s1: suppress the early end of thinking and keep going
    closing = NO_THINKING if budget <= 0 else END_THINKING if finish == "length" else "\n</think>\n\n"
    answer = await caller(_answer_request(request, OPEN_THINKING + thinking + closing), step=step, purpose="answer")
    return replace(
        answer,
        text=answer.text.strip(),
        reasoning=thinking.strip(),
        usage=phase_usage + answer.usage,
    )


def _room_to_think_on(caller: ModelCaller, last: Usage, request: ChatRequest) -> bool:
    """Whether the run's token limit covers another thinking request *and* the answer after it. Each
    request re-sends the thought so far (about the last request's input plus output), so a long phase
    under a token limit would otherwise spend it all and end with no answer (all eight ``high``
    samples of the 0.5B under 20,000 tokens did); like PF's conclusion, the block closes in time."""
    remaining = caller.ledger.view().remaining_total_tokens
    if remaining is None:
        return True
    prompt = last.input_tokens + last.output_tokens
    return remaining >= 2 * (prompt + THINK_CHUNK) + (request.max_tokens or 0)


def _thought_after(thinking: str, phase: Completion) -> str:
    """The think block so far after one thinking phase. Servers return the phase three ways: as text
    (the continuation alone); as reasoning holding the whole block, prefill included (llama-server
    parses the prefill and what it generated together); or as reasoning holding the continuation
    alone (vLLM's reasoning parser sees the output only). Reading ``text`` alone lost the thinking
    on llama-server: the answer was asked for after an empty think block."""
    if not phase.reasoning:
        return thinking + phase.text.split("</think>")[0]
    so_far = thinking.strip()
    if so_far and not phase.reasoning.startswith(so_far):
        return thinking + phase.reasoning  # the continuation alone
    return phase.reasoning  # the whole block


async def choose_mode(setting: str, caller: ModelCaller, question: str, *, step: int = 0) -> ThinkingMode:
    """The run's base mode from ``LoopConfig.thinking``: a level as set, or for ``auto`` the level a
    difficulty probe picks (one short call)."""
    if setting == "auto":
        level, _ = await probe_difficulty(caller, question, step=step)
        return mode_for_difficulty(level)
    return ThinkingMode(setting)


async def dialled_call(
    caller: ModelCaller,
    request: ChatRequest,
    profile: ModelProfile,
    mode: ThinkingMode,
    *,
    step: int,
    count: TokenCount | None = None,
    purpose: str = "agent",
) -> Completion:
    """One model call through the dial: the server-side controls for ``mode``, or budget forcing
    (the level's token cap and its waits) where the model or server needs it. Every strategy that
    honours ``LoopConfig.thinking`` calls the model this way; ``purpose`` labels an unforced call
    in the trace as the caller's own would (a forced one is labelled by its phases)."""
    request = thinking_request(request, profile, mode)
    if needs_forcing(profile, mode):
        budget, waits = THINKING_TOKENS[mode], THINKING_WAITS[mode]
        return await force_thinking_budget(caller, request, budget, step=step, min_tokens=budget, max_waits=waits)
    return await caller(request, step=step, count=count, purpose=purpose)


def _answer_request(request: ChatRequest, thought: str) -> ChatRequest:
    """The answer after the closed think block: its continuation (s1), or, when the reply is
    constrained by a response format, a new turn after it. A format's grammar constrains the whole
    assistant message, so a free-text think block cannot be its prefix (llama-server refuses the pair
    with HTTP 400 "Failed to initialize samplers")."""
    if request.response_format is None:
        return replace(request, messages=(*request.messages, Message("assistant", thought)))
    ask = Message("user", load_prompt("think_answer").render())
    return replace(request, messages=(*request.messages, Message("assistant", thought.rstrip()), ask))


def dial_for_budget(base: ThinkingMode, view: BudgetView) -> ThinkingMode:
    """Step the mode down as the budget regime falls."""
    regime = Regime.of(view)
    if regime is Regime.CRITICAL:
        return ThinkingMode.NONE
    return base.lower({Regime.HIGH: 0, Regime.MEDIUM: 1, Regime.LOW: 2}[regime])


def mode_for_difficulty(level: int) -> ThinkingMode:
    """Self-rated difficulty 1-5 → mode (easy questions skip thinking: AdaptThink's observation)."""
    return (
        ThinkingMode.NONE
        if level <= 1
        else ThinkingMode.LOW
        if level == 2
        else ThinkingMode.MEDIUM
        if level == 3
        else ThinkingMode.HIGH
    )


async def probe_difficulty(caller: ModelCaller, question: str, *, step: int = 0) -> tuple[int, float | None]:
    """(self-rated difficulty 1-5, mean token entropy of the rating in nats when logprobs are available).

    One short, cheap call. Unreadable ratings count as 3 (medium).
    """
    prompt = (
        "How hard is this question to answer correctly, from 1 (trivial, answer from memory) to 5 (needs "
        f"extensive research)? Reply with a single digit.\n\nQuestion: {question}"
    )
    request = ChatRequest(
        messages=(Message("user", prompt),), max_tokens=3, temperature=0.0, logprobs=True, top_logprobs=5
    )
    completion = await caller(request, step=step, purpose="probe:difficulty")
    m = re.search(r"[1-5]", completion.text)
    level = int(m.group()) if m else 3
    entropy = None
    if completion.logprobs:
        values = []
        for token in completion.logprobs:
            probs = [math.exp(lp) for _, lp in token.top] or [math.exp(token.logprob)]
            total = sum(probs)
            values.append(-sum(p / total * math.log(p / total) for p in probs if p > 0))
        entropy = sum(values) / len(values)
    return level, entropy
