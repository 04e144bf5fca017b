"""The ledger's values: what tripped (:class:`BudgetExceeded`), one charge (:class:`LedgerEntry`),
one model call's reservation (:class:`ModelReservation`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from thrifty.budget.limits import LimitKind
from thrifty.budget.usage import Usage


class BudgetExceeded(Exception):
    """The next call cannot be afforded (or a limit is already spent). Typed data, not a crash."""

    def __init__(
        self,
        kind: LimitKind,
        *,
        limit: float,
        used: float,
        ledger: str,
        tool: str | None = None,
        detail: str = "",
    ) -> None:
        what = f"{kind.value}:{tool}" if tool else kind.value
        message = f"budget exhausted: {what} (used {used:g} of {limit:g}) in ledger {ledger!r}"
        super().__init__(message + (f"; {detail}" if detail else ""))
        self.kind = kind
        self.limit = limit
        self.used = used
        self.ledger = ledger
        self.tool = tool

    @property
    def limit_name(self) -> str:
        """``"tokens"``, ``"usd"``, ``"tool:search"`` ...: what tripped, as users name it."""
        return f"tool:{self.tool}" if self.tool else self.kind.value


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One charge: who spent what, when (seconds since the ledger started)."""

    kind: Literal["model", "tool"]
    name: str
    usage: Usage
    at_seconds: float
    ledger: str
    estimated: bool = False
    overrun: bool = False


@dataclass(frozen=True, slots=True)
class ModelReservation:
    """What the next model call may use: ``max_tokens`` clipped to the budget, time left as timeout.

    Until it is charged or released, the reservation's worst case is held as ``pending`` usage.
    """

    max_tokens: int | None
    input_tokens: int
    timeout_seconds: float | None
    held: Usage = field(default_factory=Usage)


@dataclass
class _Cap:
    value: float
    kind: LimitKind
    limit: float
    used: float
