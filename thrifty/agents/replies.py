"""Replies of one short field: the requests the rails make and what counts as "no answer".

Shared by :mod:`thrifty.agents.rails` and :mod:`thrifty.agents.choice`; a small model's reply to
such a request is a JSON object of a field or two, schema-constrained where the server enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from thrifty import safejson
from thrifty.backends.base import ChatRequest, Message

_ABSTAIN = re.compile(
    r"^\W*(none|null|n/?a|unknown|not (found|available|known|stated|mentioned|specified)|no answer|"
    r"(i )?(cannot|can't|could not|couldn't) (tell|find|determine|answer)[^.]*|insufficient information)\W*$",
    re.IGNORECASE,
)


def is_abstention(answer: str | None) -> bool:
    """An answer that says "no answer" in one of the ways models do."""
    return answer is None or not answer.strip() or _ABSTAIN.match(answer.strip()) is not None


def one_field_request(
    prompt: str, name: str, max_length: int, *, max_tokens: int, constrained: bool = True
) -> ChatRequest:
    """A deterministic one-message call whose reply is ``{name: "..."}``."""
    return fields_request(prompt, {name: max_length}, max_tokens=max_tokens, constrained=constrained)


def fields_request(prompt: str, fields: Mapping[str, int], *, max_tokens: int, constrained: bool = True) -> ChatRequest:
    """A deterministic one-message call whose reply is a JSON object of string ``fields`` (name → most
    characters), schema-constrained when the server enforces JSON schemas; otherwise the prompt alone
    asks for it and parsing is lenient."""
    schema = {
        "type": "object",
        "properties": {name: {"type": "string", "maxLength": most} for name, most in fields.items()},
        "required": list(fields),
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "_".join(fields), "schema": schema}}
    return ChatRequest(
        messages=(Message("user", prompt),),
        max_tokens=max_tokens,
        temperature=0.0,
        response_format=fmt if constrained else None,
    )


def reply_object(text: str) -> dict[str, Any] | None:
    """The JSON object a reply to :func:`fields_request` holds, or None when it holds none (the rail
    that asked then does nothing)."""
    try:
        obj = safejson.loads(text.strip())
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None
