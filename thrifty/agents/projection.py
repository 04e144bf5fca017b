"""Budget projection for the loop, as pure functions: can the budget pay for one more step and an answer?

Kept apart from the loop so each rule is tested alone and the loop reads in one screen. The rule:
a step must be the last (answer without tools) when the budget could not pay for this step plus a
final answer after it; answering now beats being cut off mid-search with nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from thrifty.budget import BudgetView, ModelPrice


@dataclass(frozen=True, slots=True)
class StepCosts:
    """What the next step is expected to cost, from the loop's settings and its own history."""

    prompt_tokens: int
    """The next request's prompt, as counted."""
    step_out: int
    """Output tokens expected from this step (recent steps, or a default)."""
    final_out: int
    """Output tokens reserved for a final answer."""
    observation_tokens: int
    """Prompt growth expected from one tool round."""


def expected_step_out(recent_out: Sequence[int], step_max_tokens: int) -> int:
    """The largest of the last three steps' outputs; before any step, a guess capped by the step limit."""
    return max(recent_out[-3:], default=min(256, step_max_tokens))


def exhausted_tools(view: BudgetView, tools: Sequence[str], policy: Literal["any", "all"] = "any") -> list[str] | None:
    """The spent tools, when they end the loop: BATS ends on *any* spent tool; "all" waits for every one."""
    limited = [t for t in tools if view.tool_remaining(t) is not None]
    spent = [t for t in limited if view.tool_remaining(t) == 0]
    if spent and (policy == "any" or len(spent) == len(tools)):
        return spent
    return None


def token_shortfall(view: BudgetView, costs: StepCosts, price: ModelPrice | None) -> str | None:
    """Which budget could not pay for this step plus a final answer, phrased for the model; None if all can."""
    next_prompt = costs.prompt_tokens + costs.step_out + costs.observation_tokens
    if view.remaining_output_tokens is not None and view.remaining_output_tokens < costs.step_out + costs.final_out:
        return "Your output-token budget is nearly spent."
    need_total = costs.prompt_tokens + costs.step_out + next_prompt + costs.final_out
    if view.remaining_total_tokens is not None and view.remaining_total_tokens < need_total:
        return "Your token budget is nearly spent."
    if view.remaining_input_tokens is not None and view.remaining_input_tokens < costs.prompt_tokens + next_prompt:
        return "Your input-token budget is nearly spent."
    if view.remaining_usd is not None and price is not None:
        cost = price.cost(costs.prompt_tokens + next_prompt, 0, costs.step_out + costs.final_out)
        if view.remaining_usd < cost:
            return "Your dollar budget is nearly spent."
    return None


def finish_reason(
    view: BudgetView,
    costs: StepCosts,
    *,
    tools: Sequence[str],
    price: ModelPrice | None,
    tool_policy: Literal["any", "all"] = "any",
) -> str | None:
    """Why this step must be the last (answer without tools), or None to continue normally."""
    spent = exhausted_tools(view, tools, tool_policy)
    if spent:
        return f"Your {', '.join(spent)} budget is exhausted."
    if view.remaining_requests is not None and view.remaining_requests <= 1:
        return "This is your last allowed model call."
    return token_shortfall(view, costs, price)


_REASON_LIMITS = {
    "Your output-token budget is nearly spent.": "output_tokens",
    "Your token budget is nearly spent.": "tokens",
    "Your input-token budget is nearly spent.": "input_tokens",
    "Your dollar budget is nearly spent.": "usd",
    "This is your last allowed model call.": "requests",
}


def limit_of(reason: str) -> str | None:
    """The limit (as results name it: ``tokens``, ``tool:search`` …) behind a :func:`finish_reason` text."""
    if reason in _REASON_LIMITS:
        return _REASON_LIMITS[reason]
    if reason.startswith("Your ") and reason.endswith(" budget is exhausted."):
        return "tool:" + reason.removeprefix("Your ").removesuffix(" budget is exhausted.").split(", ")[0]
    return None


def closest_limit(view: BudgetView) -> str:
    """The limit closest to running out (a spent tool first), for the stop reason of a forced final answer."""
    for tool, left in view.remaining_tools.items():
        if left == 0:
            return f"tool:{tool}"
    candidates = sorted((fraction, name) for name, fraction in view.resource_fractions().items())
    return candidates[0][1] if candidates else "unknown"
