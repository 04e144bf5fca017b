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

    def resource_fractions(self) -> dict[str, float]:
        """Remaining fraction of each limited non-tool resource, keyed as users name them
        (``requests``, ``input_tokens``, ``output_tokens``, ``tokens``, ``usd``, ``seconds``)."""
        pairs = (
            ("requests", self.limits.requests, self.remaining_requests),
            ("input_tokens", self.limits.input_tokens, self.remaining_input_tokens),
            ("output_tokens", self.limits.output_tokens, self.remaining_output_tokens),
            ("tokens", self.limits.total_tokens, self.remaining_total_tokens),
            ("usd", self.limits.usd, self.remaining_usd),
            ("seconds", self.limits.seconds, self.remaining_seconds),
        )
        return {
            name: (remaining / limit if limit else 0.0)
            for name, limit, remaining in pairs
            if limit is not None and remaining is not None
        }

    def fraction_remaining(self) -> float | None:
        """The tightest remaining fraction over every limited resource (None when nothing is limited)."""
        fractions = [f for f in (self.tool_fraction_remaining(t) for t in self.limits.tools) if f is not None]
        fractions.extend(self.resource_fractions().values())
        return min(fractions) if fractions else None
