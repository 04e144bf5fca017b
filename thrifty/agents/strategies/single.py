"""Single-trajectory strategies: ``react`` (no budget awareness) and ``tracker`` (BATS Budget Tracker).

They differ only in prompts: ``tracker`` explains the budget regimes in the system prompt and
appends the ``<budget>`` block after every tool response (BATS §3.1); ``react`` shows neither, the
paper's baseline. The loop and its hard limits are the same for both.
"""

from __future__ import annotations

from typing import Any

from thrifty.agents.controller import RunContext, protocol_block, run_trajectory, tools_listing
from thrifty.agents.prompts import load_prompt
from thrifty.agents.prompts.budget import TOOL_DISPLAY_NAMES, budget_lines
from thrifty.agents.result import RunResult
from thrifty.agents.strategies.base import options_of
from thrifty.strategy_options import TrajectoryOptions

__all__ = ["ReactStrategy", "TrackerStrategy", "TrajectoryOptions", "tracker_system_prompt"]


def _budget_names(ctx: RunContext) -> str:
    limits = ctx.ledger.limits
    names = [f"* {TOOL_DISPLAY_NAMES.get(t, t.title())} Budget (for {t})" for t in limits.tools]
    if limits.total_tokens is not None:
        names.append("* Token Budget (input plus output tokens of every model call)")
    if limits.output_tokens is not None:
        names.append("* Output Token Budget")
    if limits.usd is not None:
        names.append("* Cost budget in US dollars")
    if limits.seconds is not None:
        names.append("* Time budget in seconds")
    return "\n".join(names) or "* No explicit limits are set; still be economical."


class ReactStrategy:
    """Plain ReAct: the model is told nothing about its budget (the baseline)."""

    name = "react"

    def __init__(self, options: TrajectoryOptions | None = None, /, **fields: Any) -> None:
        self.options = options_of(TrajectoryOptions, options, fields)

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        system = load_prompt("react_system").render(tools=tools_listing(ctx), protocol=protocol_block(ctx))
        return await run_trajectory(
            question, ctx, system_prompt=system, strategy=self.name, budget_block=False, options=self.options
        )


class TrackerStrategy:
    """ReAct + BATS Budget Tracker: budget regimes in the prompt, a ``<budget>`` block after each tool response."""

    name = "tracker"

    def __init__(self, options: TrajectoryOptions | None = None, /, **fields: Any) -> None:
        self.options = options_of(TrajectoryOptions, options, fields)

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        system = tracker_system_prompt(ctx)
        return await run_trajectory(
            question, ctx, system_prompt=system, strategy=self.name, budget_block=True, options=self.options
        )


def tracker_system_prompt(ctx: RunContext, *, extra: str = "") -> str:
    """The BATS Budget Tracker system prompt for this run's tools and limits (plus optional modules)."""
    rows = "\n".join(budget_lines(ctx.ledger.view())) or "No limits set."
    system = load_prompt("tracker_system").render(
        tools=tools_listing(ctx), protocol=protocol_block(ctx), budget_names=_budget_names(ctx), budget_rows=rows
    )
    return f"{system}\n\n{extra}" if extra else system
