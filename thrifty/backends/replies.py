"""Reading an OpenAI-compatible chat completion body, trusting nothing in it.

A server (or a proxy in front of it) can answer 200 with HTML, ``choices`` null, ``content`` as an
int, usage as a string, NaN or a negative count, tool calls of any shape, lone surrogates or JSON
nested a thousand deep. Every such body becomes a :class:`~thrifty.errors.BackendResponseError`
naming what was wrong (the eval runner records or retries it), except a malformed *tool call*,
which the model wrote and so becomes a ``ToolCall`` with ``error`` set: an observation the model
can correct. Usage is validated strictly because the ledger charges it: a negative or fractional
count would refund budget.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from thrifty import safejson
from thrifty.backends.base import ChatRequest, Completion, TokenLogprob, ToolCall, echo_stripped
from thrifty.backends.profiles import ModelProfile
from thrifty.backends.tokens import count_text_tokens, raw_prompt_tokens
from thrifty.budget import Usage
from thrifty.errors import BackendResponseError

MAX_TOKENS_PER_CALL = 10**9
"""No real call uses a billion tokens; a count above it is garbage, not usage."""

_THINK = re.compile(r"^\s*<think>(.*?)(?:</think>|$)(.*)", re.DOTALL)


def decode_body(body: bytes | str) -> dict[str, Any]:
    """The body as a JSON object, within :mod:`thrifty.safejson`'s limits."""
    try:
        data = safejson.loads(body)
    except ValueError as exc:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        raise BackendResponseError(f"the server's reply is not JSON ({exc}): {_preview(text)}") from None
    if not isinstance(data, dict):
        raise BackendResponseError(f"the server's reply is JSON but not an object: {_preview(json.dumps(data))}")
    return data


def parse_tool_arguments(call_id: str, name: str, raw: object) -> ToolCall:
    """A tool call whose arguments are JSON text (or an object, as some servers send them)."""
    if isinstance(raw, dict):
        return ToolCall(id=call_id, name=name, arguments=safejson.scrub(raw), raw_arguments=json.dumps(raw))
    if not isinstance(raw, str):
        return ToolCall(id=call_id, name=name, arguments={}, error="invalid arguments: not a JSON object")
    try:
        args = safejson.loads(raw) if raw.strip() else {}
        if not isinstance(args, dict):
            raise ValueError("arguments must be a JSON object")
        return ToolCall(id=call_id, name=name, arguments=args, raw_arguments=raw)
    except ValueError as exc:
        return ToolCall(id=call_id, name=name, arguments={}, raw_arguments=raw, error=f"invalid JSON arguments: {exc}")


@dataclass(frozen=True, slots=True)
class _Split:
    text: str
    reasoning: str | None


def message_text(message: Mapping[str, Any]) -> str:
    """``content`` as text: a string, null, or a list of ``{"type": "text", "text": …}`` parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise BackendResponseError(f"the message content is neither text nor text parts: {_preview(repr(content))}")


def split_reasoning(message: Mapping[str, Any], profile: ModelProfile) -> _Split:
    """Reasoning from the profile's field, or from inline ``<think>`` tags when the server left them."""
    text = message_text(message)
    for name in profile.reasoning_fields:
        value = message.get(name)
        if isinstance(value, str) and value:
            return _Split(text, value)
    m = _THINK.match(text)
    if m:
        return _Split(m.group(2).lstrip(), m.group(1).strip())
    return _Split(text, None)


def _count(u: Mapping[str, Any], name: str) -> int:
    value = u.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BackendResponseError(f"usage.{name} is not a number: {_preview(repr(value))}")
    if value < 0 or value != int(value) or value > MAX_TOKENS_PER_CALL:
        raise BackendResponseError(f"usage.{name} is not a token count: {value!r}")
    return int(value)


def _details(u: Mapping[str, Any], name: str, field: str) -> int:
    details = u.get(name)
    if details is None:
        return 0
    if not isinstance(details, dict):
        raise BackendResponseError(f"usage.{name} is not an object: {_preview(repr(details))}")
    return _count(details, field)


def parse_usage(resp: Mapping[str, Any], request: ChatRequest, text: str) -> tuple[Usage, bool]:
    """(usage, estimated): the server's counts, or an estimate when it sent none."""
    u = resp.get("usage")
    if u is None:  # some servers omit usage: estimate, and say so
        return Usage(requests=1, input_tokens=raw_prompt_tokens(request), output_tokens=count_text_tokens(text)), True
    if not isinstance(u, dict):
        raise BackendResponseError(f"usage is not an object: {_preview(repr(u))}")
    prompt, completion = _count(u, "prompt_tokens"), _count(u, "completion_tokens")
    cached = _details(u, "prompt_tokens_details", "cached_tokens")
    reasoning = _details(u, "completion_tokens_details", "reasoning_tokens")
    usage = Usage(
        requests=1,
        input_tokens=prompt,
        cached_tokens=min(cached, prompt),
        output_tokens=completion,
        reasoning_tokens=min(reasoning, completion),
    )
    return usage, False


def _logprob(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value > 1e-3:
        raise BackendResponseError(f"a logprob is not a log probability: {_preview(repr(value))}")
    return float(value)


def _token_logprob(t: object) -> TokenLogprob:
    if not isinstance(t, dict) or not isinstance(t.get("token"), str):
        raise BackendResponseError(f"malformed logprobs entry: {_preview(repr(t))}")
    top = t.get("top_logprobs") or []
    if not isinstance(top, list) or not all(isinstance(a, dict) and isinstance(a.get("token"), str) for a in top):
        raise BackendResponseError(f"malformed top_logprobs: {_preview(repr(top))}")
    pairs = tuple((a["token"], _logprob(a.get("logprob"))) for a in top)
    return TokenLogprob(token=t["token"], logprob=_logprob(t.get("logprob")), top=pairs)


def parse_logprobs(choice: Mapping[str, Any]) -> tuple[TokenLogprob, ...] | None:
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    if not isinstance(content, list):
        raise BackendResponseError(f"logprobs.content is not a list: {_preview(repr(content))}")
    return tuple(_token_logprob(t) for t in content)


def parse_tool_calls(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    """The message's tool calls; one the model garbled comes back with ``error`` set (an observation)."""
    raw = message.get("tool_calls")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BackendResponseError(f"tool_calls is not a list: {_preview(repr(raw))}")
    calls = []
    for i, tc in enumerate(raw):
        entry: dict[str, Any] = tc if isinstance(tc, dict) else {}
        fn = entry.get("function")
        call_id = entry["id"] if isinstance(entry.get("id"), str) else f"call_{i}"
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            error = f"malformed tool call: {_preview(repr(tc))}"
            calls.append(ToolCall(id=call_id, name="", arguments={}, error=error))
            continue
        calls.append(parse_tool_arguments(call_id, fn["name"], fn.get("arguments") or ""))
    return tuple(calls)


def parse_completion(resp: dict[str, Any], request: ChatRequest, profile: ModelProfile, model: str) -> Completion:
    """A :class:`Completion` from a decoded body, or :class:`BackendResponseError` saying what is wrong."""
    if "error" in resp and "choices" not in resp:
        raise BackendResponseError(f"the server answered with an error: {_preview(repr(resp['error']))}")
    choices = resp.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BackendResponseError(f"the server returned no choices (choices: {_preview(repr(choices))})")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise BackendResponseError(f"choices[0] is not an object: {_preview(repr(choice))}")
    message = choice.get("message") or {}
    if not isinstance(message, dict):
        raise BackendResponseError(f"choices[0].message is not an object: {_preview(repr(message))}")
    split = split_reasoning(message, profile)
    usage, estimated = parse_usage(resp, request, split.text)
    samples = tuple(_choice_text(c, profile) for c in choices) if request.n > 1 else ()
    # every choice is an object here: _choice_text has refused any that is not
    sample_logprobs = tuple(parse_logprobs(c) for c in choices) if samples else ()
    if len(samples) > 1:
        continuations = tuple(echo_stripped(text, request.messages) for text in samples)
        usage, estimated = _all_choices_counted(usage, estimated, sample_logprobs, continuations)
    finish = choice.get("finish_reason")
    return Completion(
        text=split.text,
        model=resp["model"] if isinstance(resp.get("model"), str) and resp["model"] else model,
        usage=usage,
        finish_reason=finish if isinstance(finish, str) and finish else "stop",
        reasoning=split.reasoning,
        tool_calls=parse_tool_calls(message),
        logprobs=sample_logprobs[0] if sample_logprobs else parse_logprobs(choice),
        samples=samples,
        sample_logprobs=sample_logprobs,
        usage_estimated=estimated,
        raw=resp,
    )


def _all_choices_counted(
    usage: Usage, estimated: bool, logprobs: tuple[tuple[TokenLogprob, ...] | None, ...], samples: tuple[str, ...]
) -> tuple[Usage, bool]:
    """Usage that covers every choice of an ``n > 1`` reply. llama-server reports the first choice's
    completion tokens only (n = 3: 9 reported for 9 + 12 + 2 generated), so the ledger would charge
    9 of 23; vLLM and OpenAI report the sum. A choice's tokens are its logprob entries
    where the reply has them (exact), else estimated from its text; the larger total is kept."""
    counted, exact = 0, True
    for entries, text in zip(logprobs, samples, strict=True):
        exact = exact and entries is not None
        counted += len(entries) if entries is not None else count_text_tokens(text)
    if counted <= usage.output_tokens:
        return usage, estimated
    return replace(usage, output_tokens=counted), estimated or not exact


def _choice_text(choice: object, profile: ModelProfile) -> str:
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise BackendResponseError(f"a choice has no message object: {_preview(repr(choice))}")
    return split_reasoning(message, profile).text


def _preview(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
