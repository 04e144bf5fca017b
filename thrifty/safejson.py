"""Bounded JSON decoding and surrogate scrubbing for text that models and servers write.

A model or a server can answer with anything. Python's JSON decoder recurses once per nesting
level, so about a thousand ``[`` (≈500 tokens) raise ``RecursionError`` deep inside an agent's call
stack, and a ``"\\ud800"`` escape decodes to a lone surrogate that crashes every later UTF-8 write
(``ask --json``, the eval log). Everything decoded from untrusted text goes through :func:`loads` or
:func:`raw_decode` here: input over a size or nesting limit is refused as a ``ValueError`` (which
every caller already handles as "not JSON"), and decoded strings come back with lone surrogates
replaced by U+FFFD. :func:`scrub` does the same for text that never went through JSON.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
"""Deeper than any reply or tool call thrifty reads (a chat completion with logprobs nests 6 deep)."""
MAX_CHARS = 16_000_000

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DECODER = json.JSONDecoder()


class JSONLimitError(ValueError):
    """The text is larger or nests deeper than the limits allow."""


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside JSON strings (a cheap scan: no recursion, no decoding)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(0, max(accumulate(1 if c in "[{" else -1 for c in brackets)))


def check_bounds(text: str, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> None:
    """Raise :class:`JSONLimitError` when ``text`` is too large or nests too deep to decode safely."""
    if len(text) > max_chars:
        raise JSONLimitError(f"JSON text of {len(text)} characters is over the {max_chars} limit")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JSONLimitError(f"JSON nested {depth} deep is over the {max_depth} limit")


def scrub(value: Any) -> Any:
    """``value`` with lone surrogates in every string (keys too) replaced by U+FFFD (tuples become
    lists, as JSON writes them anyway)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> Any:
    """``json.loads`` within limits; strings come back without lone surrogates."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    check_bounds(text, max_depth=max_depth, max_chars=max_chars)
    value = json.loads(text)
    return scrub(value) if _SURROGATE_ESCAPE.search(text) else value


def raw_decode(text: str, start: int = 0) -> tuple[Any, int]:
    """``JSONDecoder.raw_decode`` for text already passed through :func:`check_bounds`."""
    value, end = _DECODER.raw_decode(text, start)
    return (scrub(value) if _SURROGATE_ESCAPE.search(text, start, end) else value), end
