"""The backend contract: one async method that returns a normalised completion with usage attached.

Backends report; they never accumulate usage or check limits. The controller charges the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from thrifty.backends.profiles import ModelProfile, ToolProtocol
from thrifty.budget import Usage

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for. ``arguments`` is parsed JSON; ``raw_arguments`` is what it wrote."""

    id: str
    name: str
    arguments: Mapping[str, Any]
    raw_arguments: str = ""
    error: str | None = None
    """Set when the model's arguments were not valid JSON; the controller tells the model."""


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: name, description and a JSON schema for its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": dict(self.parameters)},
        }


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    """Sent natively only when the backend's profile supports native tool calling."""
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int | None = None
    response_format: Mapping[str, Any] | None = None
    n: int = 1
    """Samples from one prompt (parallel sampling: vLLM and OpenAI bill the prompt once). The ledger
    reserves ``n * max_tokens`` of output; the texts come back in ``Completion.samples``."""
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    """Server-specific fields (e.g. ``chat_template_kwargs``), forwarded verbatim."""


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    """One normalised model response."""

    text: str
    model: str
    usage: Usage
    finish_reason: str = "stop"
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    samples: tuple[str, ...] = ()
    """Every choice's text, in order, when the request asked for ``n > 1`` (``text`` is the first)."""
    sample_logprobs: tuple[tuple[TokenLogprob, ...] | None, ...] = ()
    """Each choice's token logprobs, aligned with ``samples`` (``logprobs`` is the first's)."""
    usage_estimated: bool = False
    """True when the server reported no usage and it was estimated from text."""
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A prompt-size count. ``exact`` counts come from the server's own tokenizer and chat template."""

    tokens: int
    exact: bool


@runtime_checkable
class Backend(Protocol):
    """Anything that can complete a chat request."""

    @property
    def model(self) -> str: ...

    @property
    def tool_protocol(self) -> ToolProtocol: ...

    @property
    def profile(self) -> ModelProfile:
        """Model-family quirks: reasoning fields, thinking switch, tool protocol."""
        ...

    async def complete(self, request: ChatRequest) -> Completion:
        """A final assistant message is a prefill: the reply's text is its continuation alone
        (:func:`without_echoed_prefill`), whatever the server does, so strategies never special-case one."""
        ...

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        """Prompt tokens ``request`` will cost, used by the ledger's pre-call check."""
        ...

    async def aclose(self) -> None: ...


class BackendWrapper:
    """Base of a backend that wraps another (replay cache, another thread's loop): it is that model,
    with its protocol and profile; subclasses add ``complete``, ``count_tokens`` and ``aclose``."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def tool_protocol(self) -> ToolProtocol:
        return self.inner.tool_protocol

    @property
    def profile(self) -> ModelProfile:
        return self.inner.profile


def without_echoed_prefill(completion: Completion, messages: tuple[Message, ...]) -> Completion:
    """The continuation only: llama-server echoes an assistant prefill before its continuation (in
    every choice of an ``n > 1`` reply), vLLM returns the continuation alone; callers always get
    what vLLM gives."""
    text = echo_stripped(completion.text, messages)
    samples = tuple(echo_stripped(s, messages) for s in completion.samples)
    if text == completion.text and samples == completion.samples:
        return completion
    return replace(completion, text=text, samples=samples)


def echo_stripped(text: str, messages: tuple[Message, ...]) -> str:
    """``text`` without the assistant prefill it starts with, when the last message is one."""
    if not messages or messages[-1].role != "assistant" or not messages[-1].content:
        return text
    prefix = messages[-1].content
    return text[len(prefix) :] if text.startswith(prefix) else text
