"""What a run may spend. Every field is optional; ``None`` means unlimited."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


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


def _frozen(d: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard caps for one run (or one sub-task, through a child ledger)."""

    requests: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    usd: float | None = None
    seconds: float | None = None
    tools: Mapping[str, int] = field(default_factory=_frozen)
    """Units per tool name (a batched search with three queries uses three ``search`` units)."""

    def __post_init__(self) -> None:
        if not isinstance(self.tools, MappingProxyType):
            object.__setattr__(self, "tools", _frozen(self.tools))
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


def _parse_number(key: str, raw: str, *, as_float: bool) -> int | float:
    text = raw.strip().lstrip("$").replace("_", "")
    if text.endswith("s") and key in ("seconds", "time"):
        text = text[:-1]
    multiplier = 1
    if text[-1:].lower() == "k" and not as_float:
        multiplier, text = 1000, text[:-1]
    try:
        value = float(text) if as_float else int(text) * multiplier
    except ValueError:
        kind = "a number" if as_float else "an integer"
        raise BudgetSpecError(key, f"expected {kind}, got {raw!r}") from None
    if value < 0 or (as_float and not math.isfinite(value)):
        raise BudgetSpecError(key, f"must be >= 0, got {raw!r}")
    return value


def parse_budget_spec(spec: str) -> Limits:
    """Parse ``"search=10,browse=10,tokens=20000,usd=0.05,seconds=120"`` into :class:`Limits`.

    Known keys (with aliases): requests/steps, input_tokens/input, output_tokens/output,
    tokens/total_tokens, usd/dollars/cost, seconds/time. Any other key is a tool name whose value is
    its unit budget. Integers accept a ``k`` suffix (``tokens=20k``).
    """
    values: dict[str, int | float] = {}
    tools: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, raw = part.partition("=")
        key = key.strip().lower()
        if not sep or not key or not raw.strip():
            raise BudgetSpecError(key or part, f"expected KEY=VALUE, got {part!r}")
        if key in _ALIASES:
            name = _ALIASES[key]
            if name in values:
                raise BudgetSpecError(key, "given twice")
            values[name] = _parse_number(key, raw, as_float=name in _FLOAT_FIELDS)
        else:
            if not key.replace("_", "").replace("-", "").isalnum():
                raise BudgetSpecError(key, "tool names are letters, digits, '_' and '-'")
            if key in tools:
                raise BudgetSpecError(key, "given twice")
            tools[key] = int(_parse_number(key, raw, as_float=False))
    return Limits(tools=tools, **values)  # type: ignore[arg-type]
