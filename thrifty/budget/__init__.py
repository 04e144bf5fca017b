"""Budget accounting: the one place that knows what a run may spend and what it has spent.

This package is a leaf: it imports nothing else from thrifty, so policies, backends, tools and
evals can all depend on it without cycles.

- :class:`Usage` is a value (what one call or a whole run consumed).
- :class:`Limits` is a policy (what a run may consume; every field optional).
- :class:`Ledger` is the single mutable account; it checks before and charges after every call.
- :class:`BudgetView` is the frozen snapshot handed to strategies and displays.
"""

from thrifty.budget.clock import Clock, FakeClock, MonotonicClock
from thrifty.budget.deadline import Deadline
from thrifty.budget.entries import BudgetExceeded, LedgerEntry, ModelReservation
from thrifty.budget.ledger import Ledger
from thrifty.budget.limits import LimitKind, Limits, parse_budget_spec
from thrifty.budget.pricing import DEFAULT_TOOL_PRICE_USD, ModelPrice, PriceTable, UnknownPrice
from thrifty.budget.tracker import Regime
from thrifty.budget.usage import Usage
from thrifty.budget.view import BudgetView

__all__ = [
    "DEFAULT_TOOL_PRICE_USD",
    "BudgetExceeded",
    "BudgetView",
    "Clock",
    "Deadline",
    "FakeClock",
    "Ledger",
    "LedgerEntry",
    "LimitKind",
    "Limits",
    "ModelPrice",
    "ModelReservation",
    "MonotonicClock",
    "PriceTable",
    "Regime",
    "UnknownPrice",
    "Usage",
    "parse_budget_spec",
]
