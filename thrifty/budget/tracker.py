"""BATS Budget Tracker regimes (Liu et al. 2025, arXiv 2511.17006 §3.1 and Appendix C.1): how much
of the budget is left, as the HIGH/MEDIUM/LOW/CRITICAL level the strategies and the thinking dial
act on. The words the model reads (the ``<budget>`` block) are prompt text, in
:mod:`thrifty.agents.prompts.budget`.
"""

from __future__ import annotations

from enum import StrEnum

from thrifty.budget.view import BudgetView


class Regime(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    CRITICAL = "CRITICAL"

    @classmethod
    def of(cls, view: BudgetView) -> Regime:
        """HIGH >= 70% remaining, MEDIUM 30-70%, LOW 10-30%, CRITICAL < 10% or any tool at 0."""
        if any(r == 0 for r in view.remaining_tools.values()):
            return cls.CRITICAL
        fraction = view.fraction_remaining()
        if fraction is None or fraction >= 0.70:
            return cls.HIGH
        if fraction >= 0.30:
            return cls.MEDIUM
        if fraction >= 0.10:
            return cls.LOW
        return cls.CRITICAL
