"""What a run returns: answer, why it stopped, what it spent, and the full trajectory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from thrifty.backends.base import Message
from thrifty.budget import LedgerEntry, Limits, Usage

StopReason = Literal["answered", "budget_exhausted", "stalled", "error", "cancelled"]
"""Why a run ended, as :meth:`thrifty.Agent.run` reports it (the README has the table):

- ``answered``: there is an answer, given freely or when a near-empty budget (``exhausted`` names the
  limit) or a stalling model called for a final one.
- ``budget_exhausted``: a limit ran out (``exhausted``) before any answer.
- ``stalled``: budget remained, but the model made no progress (step cap, repeats) and gave no answer.
- ``error``: the model server failed; ``error`` has its text.
- ``cancelled``: the caller stopped the run (a step gate said no).
"""


def budget_table(limits: Limits, usage: Usage, seconds: float) -> dict[str, dict[str, float]]:
    """Every limit in force with what was used and what is left: ``{"tokens": {"limit", "used", "left"}}``."""
    pairs: list[tuple[str, float | None, float]] = [
        *((tool, units, usage.tool(tool)) for tool, units in limits.tools.items()),
        ("requests", limits.requests, usage.requests),
        ("tokens", limits.total_tokens, usage.total_tokens),
        ("input", limits.input_tokens, usage.input_tokens),
        ("output", limits.output_tokens, usage.output_tokens),
        ("usd", limits.usd, usage.cost_usd),
        ("seconds", limits.seconds, seconds),
    ]
    return {
        name: {"limit": limit, "used": round(used, 6), "left": round(max(limit - used, 0), 6)}
        for name, limit, used in pairs
        if limit is not None
    }


@dataclass(frozen=True, slots=True)
class TrajectoryStep:
    """One model turn and the tool calls it triggered."""

    index: int
    text: str
    reasoning: str | None
    tool_calls: tuple[dict[str, Any], ...]
    """Each: name, arguments, output, is_error, units."""
    usage: Usage
    final: bool = False


@dataclass(frozen=True, slots=True)
class RunResult:
    question: str
    answer: str | None
    stop_reason: StopReason
    usage: Usage
    strategy: str
    model: str
    exhausted: str | None = None
    """Which limit tripped (``"tokens"``, ``"usd"``, ``"tool:search"`` …) when the budget ran out."""
    error: str | None = None
    seconds: float = 0.0
    steps: tuple[TrajectoryStep, ...] = ()
    messages: tuple[Message, ...] = ()
    ledger: tuple[LedgerEntry, ...] = field(default=(), repr=False)
    candidates: tuple[str, ...] = ()
    """Every distinct answer a multi-attempt strategy produced (pass@N scoring reads these)."""
    notes: tuple[str, ...] = ()
    """Strategy decisions worth keeping (verdicts, votes, allocations), for traces and reports."""
    limits: Limits | None = None
    """The limits the run was given (set by :class:`~thrifty.agents.agent.Agent`)."""
    overrun: dict[str, Any] | None = None
    """What was spent beyond a limit, by resource, and how many calls overran (None: nothing).
    Only a server billing more than was counted, or ignoring ``max_tokens``, can cause one."""
    detail: str | None = None
    """Why the run ended, in words for the user (e.g. what a too-small budget could not pay for)."""
    pass_at_n: bool = False
    """The strategy's metric is pass@N (BATS §5.1): an eval counts the run correct when *any*
    candidate is, not only ``answer`` (``parallel-pass``)."""

    def budget(self) -> dict[str, dict[str, float]]:
        """Each limit in force: its value, what was used and what was left (see :func:`budget_table`)."""
        return budget_table(self.limits or Limits(), self.usage, self.seconds)

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd

    def to_dict(self, *, include_messages: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "stop_reason": self.stop_reason,
            "exhausted": self.exhausted,
            "error": self.error,
            "detail": self.detail,
            "budget": self.budget(),
            "strategy": self.strategy,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "candidates": list(self.candidates),
            "notes": list(self.notes),
            "usage": self.usage.to_dict(),
            "cost_usd": round(self.cost_usd, 9),
            "limits": None if self.limits is None else self.limits.to_dict(),
            "overrun": self.overrun,
            "steps": [
                {
                    "index": s.index,
                    "text": s.text,
                    "reasoning": s.reasoning,
                    "tool_calls": list(s.tool_calls),
                    "usage": s.usage.to_dict(),
                    "final": s.final,
                }
                for s in self.steps
            ],
        }
        if include_messages:
            out["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        return out
