"""Accuracy vs budget and cost: per-condition aggregates with bootstrap confidence intervals."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from thrifty.evals.log import SampleLog
from thrifty.evals.metrics import cost_per_correct, e3


@dataclass(frozen=True)
class Row:
    strategy: str
    budget: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_tokens: float
    mean_tool_units: float
    mean_cost_usd: float
    cost_per_correct: float
    e3: float
    mean_seconds: float


def bootstrap_ci(values: list[float], *, iterations: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(iterations))
    return means[int(0.025 * iterations)], means[int(0.975 * iterations) - 1]


def summarize(samples: Iterable[SampleLog]) -> list[Row]:
    groups: dict[tuple[str, str], list[SampleLog]] = defaultdict(list)
    for s in samples:
        groups[(s.strategy, s.budget)].append(s)
    rows = []
    for (strategy, budget), group in sorted(groups.items()):
        correct = [1.0 if s.correct else 0.0 for s in group]
        tokens = [s.usage.get("input_tokens", 0) + s.usage.get("output_tokens", 0) for s in group]
        units = [sum(s.usage.get("tool_units", {}).values()) for s in group]
        accuracy = statistics.fmean(correct)
        low, high = bootstrap_ci(correct)
        mean_tokens = statistics.fmean(tokens)
        rows.append(
            Row(
                strategy,
                budget,
                len(group),
                accuracy,
                low,
                high,
                mean_tokens,
                statistics.fmean(units),
                statistics.fmean(s.cost_usd for s in group),
                cost_per_correct(sum(s.cost_usd for s in group), int(sum(correct))),
                e3(accuracy, mean_tokens) if mean_tokens > 0 else 0.0,
                statistics.fmean(s.seconds for s in group),
            )
        )
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "| strategy | budget | n | accuracy (95% CI) | tokens/task | tool units/task | $/task | $/correct "
        "| E³ (acc²/tokens) | s/task |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_correct = "–" if r.cost_per_correct == float("inf") else f"{r.cost_per_correct:.4f}"
        lines.append(
            f"| {r.strategy} | {r.budget} | {r.n} | {r.accuracy:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f}) "
            f"| {r.mean_tokens:,.0f} | {r.mean_tool_units:.1f} | {r.mean_cost_usd:.4f} | {per_correct} "
            f"| {r.e3:.2e} | {r.mean_seconds:.1f} |"
        )
    return "\n".join(lines)
