"""The ledger: the single mutable account of a run, checked before and charged after every call.

Guarantee: with exact pre-call token counts a run never exceeds a hard limit. Before a model call
the ledger checks requests, input tokens, time and money and *clips* ``max_tokens`` to what remains
(output, total-token and dollar headroom); before a tool call it grants at most the units left. A
call that cannot be afforded raises :class:`BudgetExceeded`, which strategies turn into a normal
``stop_reason="budget_exhausted"`` result. After each call the authoritative usage is charged; if a
server reports more than was estimated the overrun is recorded on the entry (``overrun=True``) so it
is visible, never silent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

from thrifty.budget.clock import Clock, MonotonicClock
from thrifty.budget.deadline import Deadline
from thrifty.budget.entries import BudgetExceeded, LedgerEntry, ModelReservation, _Cap
from thrifty.budget.limits import LimitKind, Limits
from thrifty.budget.pricing import PriceTable
from thrifty.budget.usage import Usage
from thrifty.budget.view import BudgetView

_USD_DECIMALS = 12
"""Dollar headroom is compared at a trillionth of a dollar: finer differences are float rounding."""


class Ledger:
    """The one mutable account. Children (sub-tasks) propagate every charge to their parent."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        prices: PriceTable | None = None,
        clock: Clock | None = None,
        label: str = "run",
        parent: Ledger | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.prices: PriceTable = prices or (parent.prices if parent else PriceTable())
        self.clock: Clock = clock or (parent.clock if parent else MonotonicClock())
        self.label = label
        self.parent = parent
        self.used = Usage()
        self.pending = Usage()
        """Reserved by model calls in flight (released when they are charged), so concurrent calls
        can never be granted the same headroom twice."""
        self.entries: list[LedgerEntry] = []
        self._started = self.clock.now()
        self._fastest_call: float | None = None

    # ----------------------------------------------------------------- structure
    def child(self, limits: Limits | None = None, label: str = "child") -> Ledger:
        """A sub-budget: its own limits, and every charge also lands on this ledger."""
        return Ledger(limits, label=f"{self.label}/{label}", parent=self)

    def elapsed(self) -> float:
        return self.clock.now() - self._started

    # ----------------------------------------------------------------- remaining
    _KINDS: ClassVar[Mapping[str, LimitKind]] = {
        "requests": LimitKind.REQUESTS,
        "input_tokens": LimitKind.INPUT_TOKENS,
        "output_tokens": LimitKind.OUTPUT_TOKENS,
        "total_tokens": LimitKind.TOTAL_TOKENS,
        "usd": LimitKind.USD,
        "seconds": LimitKind.SECONDS,
    }

    def _own_cap(self, name: str) -> _Cap | None:
        """This ledger's headroom for one resource (committed usage plus in-flight reservations)."""
        limit: float | None = getattr(self.limits, name)
        if limit is None:
            return None
        if name == "seconds":
            used: float = self.elapsed()
        else:
            field = "cost_usd" if name == "usd" else name
            used = getattr(self.used, field) + getattr(self.pending, field)
        headroom = limit - used
        if name == "usd":  # summed float prices: 0.01 - 10 × 0.001 is -1.7e-18, not an overrun
            headroom = round(headroom, _USD_DECIMALS)
        return _Cap(headroom, self._KINDS[name], limit, used)

    def _binding(self, name: str) -> tuple[_Cap | None, str]:
        """The tightest cap for ``name`` over this ledger and its ancestors, and whose it is."""
        best: _Cap | None = None
        owner = self.label
        for node in self._lineage():
            c = node._own_cap(name)
            if c is not None and (best is None or c.value < best.value):
                best, owner = c, node.label
        return best, owner

    def _tool_binding(self, tool: str) -> tuple[_Cap | None, str]:
        best: _Cap | None = None
        owner = self.label
        for node in self._lineage():
            limit = node.limits.tools.get(tool)
            if limit is not None:
                used = node.used.tool(tool)
                c = _Cap(limit - used, LimitKind.TOOL, limit, used)
                if best is None or c.value < best.value:
                    best, owner = c, node.label
        return best, owner

    def needs_prompt_counts(self) -> bool:
        """Whether any limit here or above depends on prompt size (input/total tokens or dollars).

        When none does, counting prompt tokens before a call buys nothing, and callers may skip it.
        """
        return any(
            n.limits.input_tokens is not None or n.limits.total_tokens is not None or n.limits.usd is not None
            for n in self._lineage()
        )

    def remaining(self, name: str) -> float | None:
        """Remaining amount of ``requests``/``input_tokens``/``output_tokens``/``total_tokens``/``usd``/``seconds``."""
        c, _ = self._binding(name)
        return None if c is None else max(0.0, c.value)

    def tool_remaining(self, tool: str) -> int | None:
        c, _ = self._tool_binding(tool)
        return None if c is None else max(0, int(c.value))

    def _all_tool_names(self) -> set[str]:
        names: set[str] = set()
        for node in self._lineage():
            names.update(node.limits.tools)
        return names

    def view(self) -> BudgetView:
        def as_int(x: float | None) -> int | None:
            return None if x is None else int(x)

        return BudgetView(
            limits=self.limits,
            used=self.used,
            elapsed_seconds=self.elapsed(),
            remaining_requests=as_int(self.remaining("requests")),
            remaining_input_tokens=as_int(self.remaining("input_tokens")),
            remaining_output_tokens=as_int(self.remaining("output_tokens")),
            remaining_total_tokens=as_int(self.remaining("total_tokens")),
            remaining_usd=self.remaining("usd"),
            remaining_seconds=self.remaining("seconds"),
            remaining_tools={t: self.tool_remaining(t) for t in sorted(self._all_tool_names())},
        )

    # ----------------------------------------------------------------- checks
    def _raise(self, cap: _Cap, owner: str, tool: str | None = None, detail: str = "") -> BudgetExceeded:
        return BudgetExceeded(cap.kind, limit=cap.limit, used=cap.used, ledger=owner, tool=tool, detail=detail)

    def check_time(self, *, model_call: bool = False) -> None:
        """Raise when no time is left. For a model call, also when less is left than the fastest
        model call of this run took: a call that cannot finish before the deadline is not started."""
        c, owner = self._binding("seconds")
        if c is None:
            return
        if c.value <= 0:
            raise self._raise(c, owner)
        fastest = self.fastest_call_seconds() if model_call else None
        if fastest is not None and c.value < fastest:
            raise self._raise(c, owner, detail=f"{c.value:.3g}s left, the fastest model call took {fastest:.3g}s")

    def out_of_time(self) -> BudgetExceeded:
        """The error for a wait the deadline cut short (the seconds limit is what tripped)."""
        c, owner = self._binding("seconds")
        if c is None:
            return BudgetExceeded(LimitKind.SECONDS, limit=0, used=self.elapsed(), ledger=self.label)
        return self._raise(c, owner, detail="a wait was cut short at the deadline")

    def deadline(self) -> Deadline:
        """When the tightest ``seconds`` limit here or above runs out: what every wait honours."""
        ends = [n._started + n.limits.seconds for n in self._lineage() if n.limits.seconds is not None]
        return Deadline(min(ends) if ends else None, self.clock)

    def observe_call_seconds(self, seconds: float) -> None:
        """Record how long a finished model call took (the root keeps the fastest for the run)."""
        root = self._root()
        root._fastest_call = seconds if root._fastest_call is None else min(root._fastest_call, seconds)

    def fastest_call_seconds(self) -> float | None:
        return self._root()._fastest_call

    def _root(self) -> Ledger:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def reserve_model_call(
        self, model: str, input_tokens: int, max_tokens: int | None = None, *, min_output_tokens: int = 1
    ) -> ModelReservation:
        """Check that a call with ``input_tokens`` of prompt fits, and clip its ``max_tokens``.

        Raises :class:`BudgetExceeded` when fewer than ``min_output_tokens`` could be generated.
        """
        self.check_time(model_call=True)
        for name, need in (("requests", 1), ("input_tokens", input_tokens)):
            c, owner = self._binding(name)
            if c is not None and c.value < need:
                raise self._raise(c, owner, detail=f"the next call needs {need}")
        usd_cap, _ = self._binding("usd")
        price = self.prices.require(model) if usd_cap is not None else self.prices.model(model)
        caps: list[tuple[float, _Cap | None, str]] = []
        if max_tokens is not None:
            caps.append((max_tokens, None, self.label))
        c, owner = self._binding("output_tokens")
        if c is not None:
            caps.append((c.value, c, owner))
        c, owner = self._binding("total_tokens")
        if c is not None:
            caps.append((c.value - input_tokens, c, owner))
        c, owner = self._binding("usd")
        if c is not None:
            headroom = c.value - price.cost(input_tokens, 0, 0)
            if price.output_per_mtok > 0:
                caps.append((math.floor(headroom * 1e6 / price.output_per_mtok), c, owner))
            elif headroom < 0:
                caps.append((-1, c, owner))
        allowed: int | None = None
        if caps:
            value, cap, owner = min(caps, key=lambda t: t[0])
            allowed = int(value)
            if allowed < min_output_tokens and cap is not None:
                raise self._raise(cap, owner, detail=f"only {max(allowed, 0)} output tokens affordable")
        held = Usage(
            requests=1,
            input_tokens=input_tokens,
            output_tokens=allowed or 0,
            cost_usd=price.cost(input_tokens, 0, allowed or 0),
        )
        self._hold(held)
        secs = self.remaining("seconds")
        return ModelReservation(max_tokens=allowed, input_tokens=input_tokens, timeout_seconds=secs, held=held)

    def _hold(self, usage: Usage) -> None:
        for node in self._lineage():
            node.pending = node.pending + usage

    def release(self, reservation: ModelReservation) -> None:
        """Give back a reservation whose call never happened (or failed before being billed)."""
        for node in self._lineage():
            node.pending = node.pending.minus(reservation.held)

    def spend_tool(self, tool: str, units: int = 1) -> LedgerEntry:
        """Grant and charge up to ``units`` of ``tool`` at once (BATS: a unit is spent when dispatched,
        whatever the outcome). The entry's usage says how many were granted."""
        return self.charge_tool(tool, self.reserve_tool(tool, units))

    def reserve_tool(self, tool: str, units: int = 1) -> int:
        """Grant up to ``units`` of ``tool`` (fewer when the budget is short); raise when none is left."""
        self.check_time()
        granted = units
        c, owner = self._tool_binding(tool)
        if c is not None:
            if c.value < 1:
                raise self._raise(c, owner, tool=tool)
            granted = min(granted, int(c.value))
        price = self.prices.tool(tool)
        uc, uowner = self._binding("usd")
        if uc is not None and price > 0:
            affordable = math.floor(uc.value / price + 1e-9)
            if affordable < 1:
                raise self._raise(uc, uowner, detail=f"one {tool} unit costs ${price:g}")
            granted = min(granted, affordable)
        return granted

    # ----------------------------------------------------------------- charges
    def charge_model(
        self, model: str, usage: Usage, *, estimated: bool = False, reservation: ModelReservation | None = None
    ) -> LedgerEntry:
        """Charge one model call (its ``usage`` as the server reported it), priced by the table."""
        if reservation is not None:
            self.release(reservation)
        price = self.prices.model(model)
        priced = usage.with_cost(
            usage.cost_usd + price.cost(usage.input_tokens, usage.cached_tokens, usage.output_tokens)
        )
        return self._record("model", model, priced, estimated=estimated)

    def charge_tool(self, tool: str, units: int) -> LedgerEntry:
        usage = Usage(tool_units={tool: units}, cost_usd=units * self.prices.tool(tool))
        return self._record("tool", tool, usage)

    def _record(
        self, kind: Literal["model", "tool"], name: str, usage: Usage, *, estimated: bool = False
    ) -> LedgerEntry:
        chain = list(self._lineage())
        for node in chain:
            node.used = node.used + usage
        overrun = any(node._overrun() is not None for node in chain)
        entry = LedgerEntry(kind, name, usage, self.elapsed(), self.label, estimated=estimated, overrun=overrun)
        for node in chain:
            node.entries.append(entry)
        return entry

    def _lineage(self) -> Iterator[Ledger]:
        node: Ledger | None = self
        while node is not None:
            yield node
            node = node.parent

    def _overrun(self) -> BudgetExceeded | None:
        for name in ("requests", "input_tokens", "output_tokens", "total_tokens", "usd"):
            c = self._own_cap(name)
            if c is not None and c.value < 0:
                return self._raise(c, self.label, detail="overrun: usage exceeded the limit")
        for tool, limit in self.limits.tools.items():
            used = self.used.tool(tool)
            if used > limit:
                return BudgetExceeded(LimitKind.TOOL, limit=limit, used=used, ledger=self.label, tool=tool)
        return None

    def overrun_record(self) -> dict[str, Any] | None:
        """What this ledger spent beyond its own limits, by resource, and how many charges overran.

        None when nothing did. With exact pre-call counts only a server that bills more than it was
        counted for, or ignores ``max_tokens``, can cause an overrun; this makes it visible in
        results, ``--json`` and eval logs instead of only on ledger entries."""
        excess: dict[str, float] = {}
        for name in self._KINDS:
            c = self._own_cap(name) if name != "seconds" else None
            if c is not None and c.value < 0:
                excess[name] = round(-c.value, 9)
        if self.limits.seconds is not None and self.elapsed() > self.limits.seconds:
            excess["seconds"] = round(self.elapsed() - self.limits.seconds, 3)
        for tool, limit in self.limits.tools.items():
            if self.used.tool(tool) > limit:
                excess[f"tool:{tool}"] = self.used.tool(tool) - limit
        calls = sum(1 for e in self.entries if e.overrun)
        if not excess and not calls:
            return None
        return {"excess": excess, "calls": calls}

    def exceeded(self) -> BudgetExceeded | None:
        """A limit already overrun here or in an ancestor (only possible after a low estimate)."""
        for node in self._lineage():
            error = node._overrun()
            if error is not None:
                return error
        return None
