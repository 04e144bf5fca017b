"""What a run returns: answer, why it stopped, what it spent, and the full trajectory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer

from thrifty.backends.base import Message
from thrifty.budget import LedgerEntry, Limits, Usage
from thrifty.records import dump

Seconds = Annotated[float, PlainSerializer(lambda v: round(v, 3), return_type=float)]
"""Wall-clock seconds, written to the millisecond."""

CompactLimits = Annotated[
    Limits | None, PlainSerializer(lambda v: None if v is None else v.to_dict(), return_type=dict[str, Any] | None)
]
"""Limits written as only those that are set (``{"total_tokens": 20000, "tools": {"search": 5}}``)."""

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
    seconds: Seconds = 0.0
    steps: tuple[TrajectoryStep, ...] = ()
    messages: tuple[Message, ...] = ()
    ledger: tuple[LedgerEntry, ...] = field(default=(), repr=False)
    candidates: tuple[str, ...] = ()
    """Every distinct answer a multi-attempt strategy produced (pass@N scoring reads these)."""
    notes: tuple[str, ...] = ()
    """Strategy decisions worth keeping (verdicts, votes, allocations), for traces and reports."""
    limits: CompactLimits = None
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
        """The JSON form (``--json``, traces, the LangGraph state): every field but the ledger entries
        (and the messages, unless asked), plus the budget table and the cost. Written by the one
        serialiser (:mod:`thrifty.records`) from the fields themselves."""
        out: dict[str, Any] = dump(self, exclude={"ledger"} if include_messages else {"ledger", "messages"})
        out.update(budget=self.budget(), cost_usd=round(self.cost_usd, 9))
        return out
