"""Several chat requests in one server request: OpenAI's ``/v1/completions`` with a list of prompts.

Why: a particle filter judges N particles per step with N one-token calls that differ only in their
last turns. llama.cpp's llama-server and vLLM both take a *list* of prompts on ``/v1/completions``
and answer one choice per prompt, tagged with its index, so the N judgements go out as one request
(one round trip, one queue entry, one ledger charge) instead of N.

The chat requests are rendered with the server's own chat template into token ids first (llama.cpp
``/apply-template`` + ``/tokenize``, vLLM ``/tokenize`` with ``messages``): the prompts are then
exactly what the chat endpoint would have run, and their token counts are exact before the call.

Reply shapes differ and are normalised here: vLLM answers one object whose ``choices`` carry
``index`` 0..N-1 and whose ``usage`` covers all prompts, with legacy logprobs (``tokens``,
``token_logprobs``, ``top_logprobs`` as ``{token: logprob}``); llama-server answers a JSON *array*
of one completion object per prompt, each with its own usage and chat-style logprobs (``content``).
Nothing is assigned by position: a reply with a missing, duplicate or out-of-range index raises
:class:`BatchReplyError`, so a score can never land on the wrong particle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from thrifty.backends.base import ChatRequest, Completion, TokenLogprob
from thrifty.backends.replies import parse_logprobs, parse_usage
from thrifty.backends.tokens import count_text_tokens
from thrifty.budget import Usage
from thrifty.errors import BackendResponseError


class BatchReplyError(BackendResponseError):
    """A batched reply that cannot be matched to its prompts one to one (fewer or more choices than
    prompts, a missing, duplicate or out-of-range index). The caller falls back to one call each."""


@dataclass(frozen=True, slots=True)
class PromptBatch:
    """Chat requests rendered by the server's template into token ids, ready for one request."""

    requests: tuple[ChatRequest, ...]
    prompts: tuple[tuple[int, ...], ...]
    """One token-id prompt per request, in order."""

    @property
    def prompt_tokens(self) -> int:
        """Exact: the prompts are token ids already."""
        return sum(len(p) for p in self.prompts)

    @property
    def max_tokens(self) -> int | None:
        """Output the whole request may write: every prompt's ``max_tokens``."""
        each = self.requests[0].max_tokens
        return None if each is None else each * len(self.requests)


@dataclass(frozen=True, slots=True)
class BatchReply:
    """One reply to a :class:`PromptBatch`: a completion per prompt, in the prompts' order, and the
    usage of the whole request (one request; the tokens of all prompts and outputs)."""

    completions: tuple[Completion, ...]
    usage: Usage
    usage_estimated: bool = False


@runtime_checkable
class BatchingBackend(Protocol):
    """A backend that can send several requests as one (a capability; a backend without it, or one
    whose server turns out to lack it, gets one call per request from :class:`ModelCaller`)."""

    async def prepare_batch(self, requests: Sequence[ChatRequest]) -> PromptBatch | None:
        """The requests rendered for one multi-prompt request, or None where this server takes none
        (a chat-only server, requests that differ in more than their messages, a failed render)."""
        ...

    async def complete_batch(self, batch: PromptBatch) -> BatchReply: ...


def batchable(requests: Sequence[ChatRequest]) -> bool:
    """Whether ``requests`` can share one ``/v1/completions`` request: at least two, one sample each,
    no tools or response format (which only the chat endpoint applies), the same sampling settings."""
    if len(requests) < 2:
        return False
    first = requests[0]
    if any(r.n != 1 or r.tools or r.response_format is not None or r.extra_body for r in requests):
        return False
    return all(_settings(r) == _settings(first) for r in requests)


def _settings(r: ChatRequest) -> tuple[object, ...]:
    return (r.max_tokens, r.temperature, r.top_p, r.seed, r.stop, r.logprobs, r.top_logprobs)


def batch_body(batch: PromptBatch, model: str) -> dict[str, Any]:
    """The ``/v1/completions`` body: every prompt as token ids, the shared sampling settings."""
    first = batch.requests[0]
    body: dict[str, Any] = {"model": model, "prompt": [list(p) for p in batch.prompts]}
    optional = {"max_tokens": first.max_tokens, "temperature": first.temperature, "top_p": first.top_p}
    body.update({k: v for k, v in optional.items() if v is not None})
    if first.seed is not None:
        body["seed"] = first.seed
    if first.stop:
        body["stop"] = list(first.stop)
    if first.logprobs:  # the completions API's logprobs is the number of alternatives per token
        body["logprobs"] = first.top_logprobs or 1
    return body


def parse_batch_reply(payload: object, batch: PromptBatch, model: str) -> BatchReply:
    """A :class:`BatchReply` from either server's reply shape, or :class:`BatchReplyError`."""
    listed_parts = payload if isinstance(payload, list) else [payload]
    parts: list[dict[str, Any]] = [p for p in listed_parts if isinstance(p, dict)]
    if not parts or len(parts) != len(listed_parts):
        raise BackendResponseError(f"the batched reply is not a completion object: {str(payload)[:160]}")
    n = len(batch.requests)
    choices: dict[int, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    for part in parts:
        if "error" in part and "choices" not in part:
            raise BackendResponseError(f"the server answered with an error: {str(part['error'])[:160]}")
        listed = part.get("choices")
        if not isinstance(listed, list):
            raise BackendResponseError(f"the batched reply has no choices list: {str(listed)[:160]}")
        for choice in listed:
            index = choice.get("index") if isinstance(choice, dict) else None
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
                raise BatchReplyError(f"a batched choice has index {index!r}, not one of 0..{n - 1}")
            if index in choices:
                raise BatchReplyError(f"the batched reply answers prompt {index} twice")
            choices[index] = (choice, part)
    if len(choices) != n:
        raise BatchReplyError(f"the batched reply has {len(choices)} choices for {n} prompts")
    completions = tuple(_completion(choices[i][0], batch, i, model) for i in range(n))
    usage, estimated = _total_usage(parts, batch, completions)
    owners = [choices[i][1] for i in range(n)] if len(parts) == n else None
    return BatchReply(_shares(completions, owners, batch), usage, estimated)


def _completion(choice: Mapping[str, Any], batch: PromptBatch, i: int, model: str) -> Completion:
    text = choice.get("text")
    if not isinstance(text, str):
        raise BackendResponseError(f"batched choice {i} has no text: {str(choice)[:160]}")
    logprobs = legacy_logprobs(choice) or parse_logprobs(choice)
    finish = choice.get("finish_reason")
    output = len(logprobs) if logprobs else count_text_tokens(text)
    return Completion(
        text=text,
        model=model,
        usage=Usage(input_tokens=len(batch.prompts[i]), output_tokens=output),
        finish_reason=finish if isinstance(finish, str) and finish else "stop",
        logprobs=logprobs,
    )


def legacy_logprobs(choice: Mapping[str, Any]) -> tuple[TokenLogprob, ...] | None:
    """The completions API's own logprobs (vLLM): parallel lists, alternatives as ``{token: logprob}``."""
    raw = choice.get("logprobs")
    if not isinstance(raw, dict) or "tokens" not in raw:
        return None
    tokens, values, tops = raw.get("tokens"), raw.get("token_logprobs"), raw.get("top_logprobs") or []
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(tops, list)):
        raise BackendResponseError(f"malformed logprobs: {str(raw)[:160]}")
    tops = tops + [None] * (len(tokens) - len(tops))
    out = []
    for token, value, top in zip(tokens, values, tops, strict=False):
        alternatives = top if isinstance(top, dict) else {}
        pairs = tuple((str(t), _logprob(lp)) for t, lp in alternatives.items())
        out.append(TokenLogprob(str(token), _logprob(value), pairs))
    return tuple(out)


def _logprob(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value > 1e-3:
        raise BackendResponseError(f"a logprob is not a log probability: {str(value)[:60]}")
    return float(value)


def _total_usage(
    parts: Sequence[Mapping[str, Any]], batch: PromptBatch, completions: Sequence[Completion]
) -> tuple[Usage, bool]:
    """The whole request's usage: the sum of what the server reported (one usage per object), or an
    estimate from the exact prompt counts and the texts when it reported none or too little. One
    request."""
    total, estimated = Usage(), False
    for part in parts:
        if part.get("usage") is None:
            estimated = True
            continue
        usage, _ = parse_usage(part, batch.requests[0], "")
        total = total + usage
    output = sum(c.usage.output_tokens for c in completions)
    if estimated:
        total = Usage(input_tokens=batch.prompt_tokens, output_tokens=output)
    elif total.input_tokens < batch.prompt_tokens or total.output_tokens < output:
        # Usage that covers fewer prompts than were sent (the embedded llama-server reported one
        # prompt's usage for a batch of six): never charge less than the exact prompts and the
        # tokens seen, and say the charge is estimated.
        fixed = max(total.input_tokens, batch.prompt_tokens), max(total.output_tokens, output)
        total, estimated = replace(total, input_tokens=fixed[0], output_tokens=fixed[1]), True
    return replace(total, requests=1), estimated


def _shares(
    completions: tuple[Completion, ...], owners: Sequence[Mapping[str, Any]] | None, batch: PromptBatch
) -> tuple[Completion, ...]:
    """Each prompt's completion carries its share of the usage (events show one judgement each); the
    first carries the request, so the shares add up to the one request the ledger charges.
    ``owners``: the object each choice came in, when the server sent one object per prompt
    (llama-server), whose own usage is then that prompt's."""
    out = []
    for i, c in enumerate(completions):
        usage = c.usage
        if owners is not None and isinstance(owners[i].get("usage"), dict):
            usage, _ = parse_usage(owners[i], batch.requests[i], c.text)
        out.append(replace(c, usage=replace(usage, requests=1 if i == 0 else 0)))
    return tuple(out)
