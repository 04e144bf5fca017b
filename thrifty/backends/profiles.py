"""Per-model-family quirks, kept as data instead of ``if`` branches in the backend.

Which field carries reasoning text (vLLM renamed ``reasoning_content`` to ``reasoning``), whether
reasoning arrives inline in ``<think>`` tags, whether the server parses native tool calls, and which
switch controls thinking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ThinkingControl = Literal["none", "enable_thinking", "reasoning_effort", "think_tags"]
ToolProtocol = Literal["native", "text", "json"]
"""How tool calls travel: the server's native ``tools``/``tool_calls``; BATS's tagged text
(``<tool_code>{…}</tool_code>``); or one JSON object per step constrained by a JSON schema
(``response_format``), which keeps even sub-1B models syntactically valid."""


@dataclass(frozen=True, slots=True)
class ModelProfile:
    family: str
    tool_protocol: ToolProtocol = "native"
    reasoning_fields: tuple[str, ...] = ("reasoning", "reasoning_content")
    """Message fields that may hold reasoning text, tried in order."""
    think_tags: bool = False
    """Reasoning may arrive inline as ``<think>...</think>`` at the start of ``content``."""
    thinking: ThinkingControl = "none"
    thinking_token_budget: bool = False
    """The server honours vLLM's per-request ``thinking_token_budget`` (vLLM >= 0.20 with a reasoning parser)."""
    rails: Literal["none", "small-model"] = "none"
    """Which loop rails the model needs (thrifty.agents.rails): small models get an opening search,
    answer-on-repeat and a short-answer pass; capable models run the plain loop."""


DEFAULT_PROFILE = ModelProfile(family="default")

EMBEDDED_PROFILE = ModelProfile(family="qwen2.5-small-llamacpp", tool_protocol="json", rails="small-model")
"""Qwen2.5-Coder-0.5B/1.5B on llama-server write tool calls as plain JSON in ``content`` rather than
``tool_calls`` (runtime notes §3), and drifts from tagged formats; llama-server enforces
``json_schema`` response formats, so the embedded model uses the schema-constrained JSON protocol."""

_PATTERNS: tuple[tuple[str, ModelProfile], ...] = (
    (r"qwen3", ModelProfile(family="qwen3", think_tags=True, thinking="enable_thinking")),
    (r"gpt-oss", ModelProfile(family="gpt-oss", thinking="reasoning_effort")),
    (r"deepseek-r1|r1-distill|qwq", ModelProfile(family="r1", think_tags=True, thinking="think_tags")),
    (r"^(o1|o3|o4)", ModelProfile(family="openai-reasoning", thinking="reasoning_effort")),
    (r"smollm|gemma-3-270m|qwen2\.5-coder-(0\.5|1\.5)b|0\.5b", EMBEDDED_PROFILE),
)


def profile_for(model: str) -> ModelProfile:
    """The profile for a served model name (case-insensitive pattern match; default otherwise)."""
    name = model.lower().rsplit("/", 1)[-1]
    for pattern, profile in _PATTERNS:
        if re.search(pattern, name):
            return profile
    return DEFAULT_PROFILE
