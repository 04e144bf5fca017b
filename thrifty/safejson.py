"""Bounded JSON decoding and surrogate scrubbing for text that models and servers write.

A model or a server can answer with anything. Python's JSON decoder recurses once per nesting
level, so about a thousand ``[`` (≈500 tokens) raise ``RecursionError`` deep inside an agent's call
stack, and a ``"\\ud800"`` escape decodes to a lone surrogate that crashes every later UTF-8 write
(``ask --json``, the eval log). Everything decoded from untrusted text goes through :func:`loads` or
:func:`raw_decode` here: input over a size or nesting limit is refused as a ``ValueError`` (which
every caller already handles as "not JSON"), and decoded strings come back with lone surrogates
replaced by U+FFFD. :func:`scrub` does the same for text that never went through JSON.

The depth limit is checked on the decoded value, iteratively, and the decoder's own
``RecursionError`` is the same verdict: a text pre-scan cannot know where strings start when
decoding begins mid-text (``raw_decode`` at each ``{``), and a regex for strings goes quadratic
on unterminated ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64
"""Deeper than any reply or tool call thrifty reads (a chat completion with logprobs nests 6 deep)."""
MAX_CHARS = 16_000_000

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DECODER = json.JSONDecoder()


class JSONLimitError(ValueError):
    """The text is larger or nests deeper than the limits allow."""


def check_size(text: str, max_chars: int = MAX_CHARS) -> None:
    if len(text) > max_chars:
        raise JSONLimitError(f"JSON text of {len(text)} characters is over the {max_chars} limit")


def _check_depth(value: Any, limit: int) -> None:
    """Iteratively (a recursive walk would itself overflow): no container deeper than ``limit``."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise JSONLimitError(f"JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


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


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` without lone surrogates. Most values have
    none, so the text is written first and scanned (one regex pass in C); only a text with one is
    written again from :func:`scrub`'s copy — the per-event cost of traces (issue 15.8)."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return json.dumps(scrub(value), ensure_ascii=False, **options) if _SURROGATE.search(text) else text


def _bounded(decode: Callable[[], tuple[Any, int]], text: str, start: int, max_depth: int) -> tuple[Any, int]:
    try:
        value, end = decode()
    except RecursionError:  # the decoder met the interpreter's limit first: the same verdict
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels") from None
    _check_depth(value, max_depth)
    return (scrub(value) if _SURROGATE_ESCAPE.search(text, start, end) else value), end


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> Any:
    """``json.loads`` within limits; strings come back without lone surrogates."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    check_size(text, max_chars)
    decoded = text
    return _bounded(lambda: (json.loads(decoded), len(decoded)), decoded, 0, max_depth)[0]


def raw_decode(text: str, start: int = 0, *, max_depth: int = MAX_DEPTH) -> tuple[Any, int]:
    """``JSONDecoder.raw_decode`` within the depth limit (size: :func:`check_size` the text first)."""
    return _bounded(lambda: _DECODER.raw_decode(text, start), text, start, max_depth)
