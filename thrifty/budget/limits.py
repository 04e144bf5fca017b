"""What a run may spend. Every field is optional; ``None`` means unlimited."""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from thrifty.budget.usage import ToolUnits, frozen_counts


class LimitKind(StrEnum):
    """Which limit tripped: carried by :class:`~thrifty.budget.BudgetExceeded` and run results."""

    REQUESTS = "requests"
    INPUT_TOKENS = "input_tokens"
    OUTPUT_TOKENS = "output_tokens"
    TOTAL_TOKENS = "tokens"
    USD = "usd"
    SECONDS = "seconds"
    TOOL = "tool"


class BudgetSpecError(ValueError):
    """A budget spec string or value is malformed. ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"budget field {field!r}: {message}")
        self.field = field


_SCALARS = ("requests", "input_tokens", "output_tokens", "total_tokens", "usd", "seconds")


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard caps for one run (or one sub-task, through a child ledger)."""

    requests: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    usd: float | None = None
    seconds: float | None = None
    tools: ToolUnits = field(default_factory=frozen_counts)
    """Units per tool name (a batched search with three queries uses three ``search`` units)."""

    def __post_init__(self) -> None:
        if not isinstance(self.tools, MappingProxyType):
            object.__setattr__(self, "tools", frozen_counts(self.tools))
        for name in _SCALARS:
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise BudgetSpecError(name, f"must be a finite number >= 0, got {value!r}")
        for tool, units in self.tools.items():
            if not isinstance(units, int) or units < 0:
                raise BudgetSpecError(tool, f"tool units must be an integer >= 0, got {units!r}")

    def to_dict(self) -> dict[str, Any]:
        """The limits that are set, by field name (tools as a nested mapping): for logs and JSON."""
        out: dict[str, Any] = {n: getattr(self, n) for n in _SCALARS if getattr(self, n) is not None}
        if self.tools:
            out["tools"] = dict(sorted(self.tools.items()))
        return out

    @property
    def is_unlimited(self) -> bool:
        return not self.tools and all(getattr(self, n) is None for n in _SCALARS)


_ALIASES = {
    "requests": "requests",
    "steps": "requests",
    "input": "input_tokens",
    "input_tokens": "input_tokens",
    "output": "output_tokens",
    "output_tokens": "output_tokens",
    "tokens": "total_tokens",
    "total_tokens": "total_tokens",
    "usd": "usd",
    "dollars": "usd",
    "cost": "usd",
    "seconds": "seconds",
    "time": "seconds",
}
_FLOAT_FIELDS = {"usd", "seconds"}


RESOURCES = ("requests", "tokens", "input", "output", "usd", "seconds")
"""The non-tool keys as users write them (each has aliases in ``_ALIASES``)."""
_LIFT = ("none", "unlimited")


def _parse_number(key: str, raw: str, *, as_float: bool) -> int | float:
    text = raw.strip().lstrip("$").replace("_", "")
    if text.endswith("s") and key in ("seconds", "time"):
        text = text[:-1]
    multiplier = 1
    if text[-1:].lower() == "k" and not as_float:
        multiplier, text = 1000, text[:-1]
    try:
        if not text.isascii():  # int() and float() also read other scripts' digits (١٢٣٤ is 1234)
            raise ValueError(text)
        value = float(text) if as_float else int(text) * multiplier
    except ValueError:
        kind = "a number" if as_float else "an integer"
        raise BudgetSpecError(key, f"expected {kind}, got {raw!r}") from None
    if value < 0 or (as_float and not math.isfinite(value)):
        raise BudgetSpecError(key, f"must be >= 0, got {raw!r}")
    return value


def _unknown_key(key: str, tools: Collection[str]) -> BudgetSpecError:
    close = difflib.get_close_matches(key, [*RESOURCES, *sorted(tools), *_ALIASES], n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    offered = f"the tools offered: {', '.join(sorted(tools))}" if tools else "no tools are offered"
    return BudgetSpecError(key, f"unknown key; {hint}valid keys: {', '.join(RESOURCES)} and {offered}")


def _pairs(spec: str) -> Iterator[tuple[str, str]]:
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, raw = part.partition("=")
        key = key.strip().lower()
        if not sep or not key or not raw.strip():
            raise BudgetSpecError(key or part, f"expected KEY=VALUE, got {part!r}")
        yield key, raw.strip()


def parse_budget_spec(spec: str, *, tools: Collection[str] | None = None, base: Limits | None = None) -> Limits:
    """Parse ``"search=10,browse=10,tokens=20000,usd=0.05,seconds=120"`` into :class:`Limits`.

    Known keys (with aliases): requests/steps, input_tokens/input, output_tokens/output,
    tokens/total_tokens, usd/dollars/cost, seconds/time. Any other key is a tool name whose value is
    its unit budget; with ``tools`` given, it must be one of them (a typo such as ``tokns=5000``
    would otherwise set no limit at all). Integers accept a ``k`` suffix (``tokens=20k``).
    With ``base``, the spec is laid over it key by key, and ``KEY=none`` lifts a limit of the base.
    """
    values: dict[str, int | float | None] = {}
    tool_units: dict[str, int | None] = {}
    for key, raw in _pairs(spec):
        if key in _ALIASES:
            name, target = _ALIASES[key], values
        elif not key.replace("_", "").replace("-", "").isalnum() or not key.isascii():
            raise BudgetSpecError(key, "tool names are letters, digits, '_' and '-'")
        elif tools is not None and key not in tools:
            raise _unknown_key(key, tools)
        else:
            name, target = key, tool_units  # type: ignore[assignment]
        if name in target:
            raise BudgetSpecError(key, "given twice")
        if raw.lower() in _LIFT:
            target[name] = None
        elif target is values:
            values[name] = _parse_number(key, raw, as_float=name in _FLOAT_FIELDS)
        else:
            tool_units[name] = int(_parse_number(key, raw, as_float=False))
    return _overlay(base or Limits(), values, tool_units)


def _overlay(base: Limits, values: dict[str, int | float | None], tools: dict[str, int | None]) -> Limits:
    merged_tools = {**base.tools, **tools}
    return replace(
        base,
        tools={k: v for k, v in merged_tools.items() if v is not None},
        **values,  # type: ignore[arg-type]
    )
