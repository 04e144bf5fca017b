"""The BATS Budget Tracker's words for the budget (Liu et al. 2025, arXiv 2511.17006 §3.1, C.1).

After every tool response the agent sees a ``<budget>`` block (``budget_block.md``) with used and
remaining units per tool; the tracker's system prompt explains the HIGH/MEDIUM/LOW/CRITICAL regimes
(:class:`~thrifty.budget.Regime`, computed in the budget leaf). Token, dollar and time rows are our
extension (the paper lists "more resource constraints" as future work) and appear only when those
limits are set.
"""

from __future__ import annotations

from thrifty.agents.prompts import load_prompt
from thrifty.budget import BudgetView, Regime

TOOL_DISPLAY_NAMES = {"search": "Query", "browse": "URL"}
"""The paper calls the search budget "Query Budget" and the browse budget "URL Budget"."""


def _tool_label(name: str) -> str:
    return TOOL_DISPLAY_NAMES.get(name, name.replace("_", " ").title())


def budget_lines(view: BudgetView) -> list[str]:
    """One ``X Budget Used: n, X Budget Remaining: m`` line per limited resource."""
    lines = []
    for tool in view.limits.tools:
        label = _tool_label(tool)
        lines.append(
            f"{label} Budget Used: {view.used.tool(tool)}, "
            f"{label} Budget Remaining: {view.remaining_tools.get(tool) or 0}"
        )
    if view.limits.total_tokens is not None:
        lines.append(
            f"Token Budget Used: {view.used.total_tokens}, Token Budget Remaining: {view.remaining_total_tokens or 0}"
        )
    if view.limits.output_tokens is not None:
        lines.append(
            f"Output Token Budget Used: {view.used.output_tokens}, "
            f"Output Token Budget Remaining: {view.remaining_output_tokens or 0}"
        )
    if view.limits.usd is not None:
        lines.append(f"Cost Used: ${view.used.cost_usd:.4f}, Cost Remaining: ${view.remaining_usd or 0:.4f}")
    if view.limits.seconds is not None:
        lines.append(f"Time Used: {view.elapsed_seconds:.0f}s, Time Remaining: {view.remaining_seconds or 0:.0f}s")
    return lines


def render_budget_block(view: BudgetView, *, show_regime: bool = False) -> str:
    """The ``<budget>`` status block injected after each tool response."""
    lines = budget_lines(view)
    if show_regime:
        lines.append(f"Budget regime: {Regime.of(view).value}")
    return load_prompt("budget_block").render(rows="\n".join(lines))
