"""A frozen snapshot of a ledger, for strategies, prompts and displays (they never mutate budgets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from thrifty.budget.limits import Limits
from thrifty.budget.usage import Usage


@dataclass(frozen=True, slots=True)
class BudgetView:
    """Used and remaining resources at one instant.

    ``remaining_*`` values already take ancestor ledgers into account (a child can never offer more
    than its parent has left); ``None`` means unlimited.
    """

    limits: Limits
    used: Usage
    elapsed_seconds: float
    remaining_requests: int | None
    remaining_input_tokens: int | None
    remaining_output_tokens: int | None
    remaining_total_tokens: int | None
    remaining_usd: float | None
    remaining_seconds: float | None
    remaining_tools: Mapping[str, int | None]

    def tool_remaining(self, name: str) -> int | None:
        return self.remaining_tools.get(name)

    def tool_fraction_remaining(self, name: str) -> float | None:
        limit = self.limits.tools.get(name)
        remaining = self.remaining_tools.get(name)
        if limit is None or remaining is None:
            return None
        return remaining / limit if limit else 0.0

    def fraction_remaining(self) -> float | None:
        """The tightest remaining fraction over every limited resource (None when nothing is limited)."""
        fractions: list[float] = []
        for name in self.limits.tools:
            f = self.tool_fraction_remaining(name)
            if f is not None:
                fractions.append(f)
        pairs = (
            (self.limits.requests, self.remaining_requests),
            (self.limits.input_tokens, self.remaining_input_tokens),
            (self.limits.output_tokens, self.remaining_output_tokens),
            (self.limits.total_tokens, self.remaining_total_tokens),
            (self.limits.usd, self.remaining_usd),
            (self.limits.seconds, self.remaining_seconds),
        )
        for limit, remaining in pairs:
            if limit is not None and remaining is not None:
                fractions.append(remaining / limit if limit else 0.0)
        return min(fractions) if fractions else None
