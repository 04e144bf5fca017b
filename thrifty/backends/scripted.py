"""ScriptedBackend: a deterministic backend for tests, shipped in the library.

A script is a queue of steps. Each step is a :class:`Completion`, a plain string (the text of a
completion), an exception instance (raised), or a callable ``(request) -> Completion | str``
(computed from the request). Every request is recorded. Calling past the end raises
:class:`~thrifty.errors.ScriptExhausted`; ``assert_complete()`` fails when steps were left unused.
When a step has no usage, plausible usage is estimated from the text so budget logic is exercised.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from thrifty.backends.base import ChatRequest, Completion, TokenCount, ToolCall, without_echoed_prefill
from thrifty.backends.profiles import DEFAULT_PROFILE, ModelProfile, ToolProtocol
from thrifty.backends.tokens import count_text_tokens, raw_prompt_tokens
from thrifty.budget import Usage
from thrifty.errors import ScriptExhausted

Responder = Callable[[ChatRequest], Completion | str | Awaitable[Completion | str]]
Step = Completion | str | BaseException | Responder


class ScriptedBackend:
    """Plays back a script of completions, exceptions and responders."""

    def __init__(
        self,
        steps: Iterable[Step] = (),
        *,
        model: str = "scripted",
        tool_protocol: ToolProtocol = "text",
        profile: ModelProfile | None = None,
        respect_max_tokens: bool = True,
    ) -> None:
        self._steps: deque[Step] = deque(steps)
        self._model = model
        self._profile = replace(profile or DEFAULT_PROFILE, tool_protocol=tool_protocol)
        self._respect_max_tokens = respect_max_tokens
        self.requests: list[ChatRequest] = []

    @property
    def model(self) -> str:
        return self._model

    @property
    def tool_protocol(self) -> ToolProtocol:
        return self._profile.tool_protocol

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    @property
    def remaining_steps(self) -> int:
        return len(self._steps)

    @property
    def last_request(self) -> ChatRequest:
        if not self.requests:
            raise AssertionError("the scripted backend was never called")
        return self.requests[-1]

    def extend(self, steps: Iterable[Step]) -> None:
        self._steps.extend(steps)

    def assert_complete(self) -> None:
        if self._steps:
            raise AssertionError(f"{len(self._steps)} scripted step(s) were never used")

    async def complete(self, request: ChatRequest) -> Completion:
        """The next step; a request for ``n > 1`` samples takes one step per choice, as a server
        samples each choice on its own, unless its first step is a Completion with its own ``samples``
        (a reply played back as is, e.g. a server that returned fewer choices than asked)."""
        self.requests.append(request)
        first = await self._next(request)
        if request.n <= 1 or first.samples:
            return self._finish(request, first)
        choices = [self._finish(request, first)]
        for _ in range(request.n - 1):
            choices.append(self._finish(request, await self._next(request)))
        return _one_reply(choices)

    async def _next(self, request: ChatRequest) -> Completion:
        if not self._steps:
            raise ScriptExhausted(f"script exhausted after {len(self.requests) - 1} call(s)")
        step = self._steps.popleft()
        if isinstance(step, BaseException):
            raise step
        if callable(step) and not isinstance(step, Completion):
            result = step(request)
            step = await result if inspect.isawaitable(result) else result
        completion = step if isinstance(step, Completion) else Completion(text=step, model=self._model, usage=Usage())
        # A script may echo a prefill as llama-server does; the contract is the continuation alone.
        return without_echoed_prefill(completion, request.messages)

    def _finish(self, request: ChatRequest, completion: Completion) -> Completion:
        """Fill in usage when the script gave none, and honour ``max_tokens`` like a real server."""
        text = completion.text
        finish = completion.finish_reason
        out_tokens = completion.usage.output_tokens or count_text_tokens(text) or 1
        if self._respect_max_tokens and request.max_tokens is not None and out_tokens > request.max_tokens:
            text = _truncate_tokens(text, request.max_tokens)
            out_tokens, finish = request.max_tokens, "length"
        if completion.usage.requests == 0:
            usage = Usage(requests=1, input_tokens=raw_prompt_tokens(request), output_tokens=out_tokens)
            return replace(completion, text=text, usage=usage, finish_reason=finish, usage_estimated=True)
        usage = replace(completion.usage, output_tokens=min(completion.usage.output_tokens, out_tokens))
        return replace(completion, text=text, usage=usage, finish_reason=finish)

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        """Exact by construction: the same count ``complete`` charges when usage is omitted."""
        return TokenCount(raw_prompt_tokens(request), exact=True)

    async def aclose(self) -> None:
        return None


def _one_reply(choices: list[Completion]) -> Completion:
    """Several finished choices as one ``n > 1`` reply: the prompt billed once, every choice's output."""
    first = choices[0]
    output = sum(c.usage.output_tokens for c in choices)
    return replace(
        first,
        usage=replace(first.usage, output_tokens=output),
        samples=tuple(c.text for c in choices),
        sample_logprobs=tuple(c.logprobs for c in choices),
        usage_estimated=any(c.usage_estimated for c in choices),
    )


def _truncate_tokens(text: str, n: int) -> str:
    """The longest word prefix of ``text`` within ``n`` tokens (binary search: a few counts, not one
    per word, so a long reply cut to a small budget stays cheap)."""
    words = text.split(" ")
    low, high = 0, len(words)
    while low < high:
        mid = (low + high + 1) // 2
        if count_text_tokens(" ".join(words[:mid])) <= n:
            low = mid
        else:
            high = mid - 1
    return " ".join(words[:low])


def tool_call(name: str, _id: str | None = None, /, **arguments: object) -> ToolCall:
    """Build a native :class:`ToolCall` for scripts: ``tool_call("search", query=["x"])``."""
    import json

    return ToolCall(id=_id or f"call_{name}", name=name, arguments=arguments, raw_arguments=json.dumps(arguments))
