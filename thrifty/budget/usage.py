"""What was consumed: a frozen, addable value. Backends build one per call; the ledger sums them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(d: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class Usage:
    """Resources consumed by one call or a whole run.

    ``cached_tokens`` is the part of ``input_tokens`` the server served from its prefix cache, and
    ``reasoning_tokens`` the part of ``output_tokens`` spent thinking: both are *subsets*, kept so the
    unified cost can price them differently and reports can show them, never added twice.
    """

    requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    tool_units: Mapping[str, int] = field(default_factory=_frozen)
    """Units per tool name. BATS semantics: each query string or URL in a batched call is one unit."""
    cost_usd: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.tool_units, MappingProxyType):
            object.__setattr__(self, "tool_units", _frozen(self.tool_units))
        for name in ("requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"Usage.{name} cannot be negative")

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def tool_calls(self) -> int:
        """All tool units together."""
        return sum(self.tool_units.values())

    def tool(self, name: str) -> int:
        return self.tool_units.get(name, 0)

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        units: Mapping[str, int] = self.tool_units
        if other.tool_units:
            merged = dict(self.tool_units)
            for k, v in other.tool_units.items():
                merged[k] = merged.get(k, 0) + v
            units = merged
        return Usage(
            requests=self.requests + other.requests,
            input_tokens=self.input_tokens + other.input_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            tool_units=units,
            cost_usd=self.cost_usd + other.cost_usd,
        )

    def with_cost(self, cost_usd: float) -> Usage:
        return Usage(
            requests=self.requests,
            input_tokens=self.input_tokens,
            cached_tokens=self.cached_tokens,
            output_tokens=self.output_tokens,
            reasoning_tokens=self.reasoning_tokens,
            tool_units=self.tool_units,
            cost_usd=cost_usd,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "tool_units": dict(self.tool_units),
            "cost_usd": round(self.cost_usd, 9),
        }
