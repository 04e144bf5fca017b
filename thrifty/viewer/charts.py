"""The eval report's two charts from its summary rows: accuracy vs budget (Wilson 95 % intervals)
and cost vs accuracy (with the Pareto front), named by what the budget and the cost really are."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from thrifty.evals.report import Row, usd
from thrifty.viewer.svg import Point, Series, line_chart, scatter_chart


def budget_value(label: str) -> float:
    try:
        value = float(label)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def budget_axis(limits_by_budget: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """What the budget labels measure, from the limits of the runs behind them: tool units per tool
    when the tool limits equal the label, the token limit when that does, else a neutral name (the
    particle strategies are tool-free: their budget is never called a tool budget)."""

    def every(test: Any) -> bool:
        return bool(limits_by_budget) and all(
            test(limits, budget_value(label)) for label, group in limits_by_budget.items() for limits in group
        )

    if every(lambda lim, v: lim.get("tools") and all(float(u) == v for u in lim["tools"].values())):
        return "tool budget (units per tool)"
    if every(lambda lim, v: lim.get("total_tokens") is not None and float(lim["total_tokens"]) == v):
        return "token budget (tokens per task)"
    if every(lambda lim, v: lim.get("total_tokens") is not None):
        return "budget setting (the token limit grows with it)"
    return "budget setting"


def series_name(row: Row, run_group: Mapping[str, str]) -> str:
    group = run_group.get(row.run, "")
    return f"{group}: {row.strategy}" if group else row.strategy


def accuracy_chart(rows: Sequence[Row], x_label: str, run_group: Mapping[str, str] | None = None) -> str:
    """One line per strategy (per log when two are compared) over the numeric budgets."""
    groups = run_group or {}
    lines: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for r in rows:
        x = budget_value(r.budget)
        if r.n and not math.isnan(x):
            lines[series_name(r, groups)].append((x, r.accuracy, r.ci_low, r.ci_high))
    series = [Series(name, points) for name, points in sorted(lines.items())]
    return line_chart(series, title="Accuracy vs budget (95% Wilson intervals)", x_label=x_label)


def cost_chart(rows: Sequence[Row], run_group: Mapping[str, str] | None = None) -> str:
    """Accuracy against dollars per task, or tokens per task when nothing cost anything."""
    groups = run_group or {}
    shown = [r for r in rows if r.n]
    dollars = any(r.mean_cost_usd > 0 for r in shown)
    points = []
    for r in shown:
        cost = r.mean_cost_usd if dollars else r.mean_tokens
        cost_text = f"${usd(cost)}" if dollars else f"{cost:,.0f} tokens"
        name = series_name(r, groups)
        points.append(
            Point(
                cost,
                r.accuracy,
                f"{name}@{r.budget}",
                name,
                f"{name} @ {r.budget}: accuracy {r.accuracy:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f}), "
                f"{cost_text} per task",
            )
        )
    front = pareto([p for p in points])
    x_label = "$ per task" if dollars else "tokens per task (every run was free)"
    return scatter_chart(points, title="Cost vs accuracy", x_label=x_label, front=front)


def pareto(points: Sequence[Point]) -> list[Point]:
    """Points no cheaper-or-equal point beats on accuracy, by cost."""
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.x, -p.y)):
        if not front or p.y > front[-1].y:
            front.append(p)
    return front
