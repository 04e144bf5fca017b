"""What was consumed: a frozen, addable value. Backends build one per call; the ledger sums them.

Arithmetic (``+``, :meth:`Usage.minus`) and serialisation (:meth:`Usage.to_dict`,
:meth:`Usage.from_dict`, a pydantic ``TypeAdapter``) are derived from the dataclass fields, so a new
resource is added in one place and every sum, release and log line carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import PlainSerializer, TypeAdapter


def frozen_counts(d: Mapping[str, int] | None = None) -> Mapping[str, int]:
    """A read-only copy (values of frozen dataclasses must not change under them)."""
    return MappingProxyType(dict(d or {}))


ToolUnits = Annotated[Mapping[str, int], PlainSerializer(dict, return_type=dict[str, int])]
"""Units per tool name, stored read-only (:func:`frozen_counts`), written as a plain JSON object."""

Dollars = Annotated[float, PlainSerializer(lambda v: round(v, 9), return_type=float)]
"""A dollar amount, written rounded to 1e-9 (float sums leave noise past that)."""


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
    tool_units: ToolUnits = field(default_factory=frozen_counts)
    """Units per tool name. BATS semantics: each query string or URL in a batched call is one unit."""
    cost_usd: Dollars = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.tool_units, MappingProxyType):
            object.__setattr__(self, "tool_units", frozen_counts(self.tool_units))
        for name in _COUNTS:
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

    def _combine(self, other: Usage, op: Callable[[float, float], float]) -> Usage:
        """Field by field: every count, every tool's units and the cost, through ``op``."""
        values: dict[str, Any] = {name: op(getattr(self, name), getattr(other, name)) for name in _COUNTS}
        units = dict(self.tool_units)
        for tool, n in other.tool_units.items():
            units[tool] = int(op(units.get(tool, 0), n))
        values["tool_units"] = units
        values["cost_usd"] = op(self.cost_usd, other.cost_usd)
        return Usage(**values)

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return self._combine(other, lambda a, b: a + b)

    def minus(self, other: Usage) -> Usage:
        """What is left after taking ``other`` away, every field floored at zero (releasing a
        reservation can never drive pending usage negative)."""
        return self._combine(other, lambda a, b: max(type(a)(0), a - b))

    def with_cost(self, cost_usd: float) -> Usage:
        return replace(self, cost_usd=cost_usd)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to traces, logs and caches (every field; cost rounded to 1e-9)."""
        result: dict[str, Any] = usage_adapter().dump_python(self, mode="json")
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Read back what :meth:`to_dict` wrote (missing fields are zero; a wrong type is a ``ValueError``)."""
        return usage_adapter().validate_python(dict(data))


_COUNTS = tuple(f.name for f in fields(Usage) if f.type in ("int", int))
"""The integer counters, in field order (tool units and the cost are combined apart)."""


@cache
def usage_adapter() -> TypeAdapter[Usage]:
    """The one pydantic adapter that (de)serialises :class:`Usage` (built once, on first use)."""
    return TypeAdapter(Usage)
