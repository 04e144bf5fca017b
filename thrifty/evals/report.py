"""Accuracy vs budget and cost: per-run aggregates with Wilson score intervals.

Rows are grouped by run (the header hash: model, limits, settings), strategy and budget, so two
runs with different settings on one log are never mixed. For each (run, task) the finished sample
counts (the latest when a task was run twice); errored samples are counted apart and never scored
as wrong. pass@N (any candidate correct) is reported beside the strategy's own answer.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from thrifty.evals.grader import calibration_error, calibration_error_hle
from thrifty.evals.log import SampleLog
from thrifty.evals.metrics import cost_per_correct, e3

Z95 = 1.959963984540054


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
    """A² / T with T the mean *decoded* (output, reasoning included) tokens, as the official
    Plan-and-Budget evaluation counts them; prompt tokens, which dominate agent loops, are left out."""
    mean_seconds: float
    pass_at_n: float | None = None
    """Any candidate correct (None when no sample recorded it: version-1 logs)."""
    pass_ci: tuple[float, float] | None = None
    errors: int = 0
    """Samples of this run that errored and have not been finished by a resume (not in ``n``)."""
    overruns: int = 0
    run: str = ""
    calibration_hle: float | None = None
    """Calibration error in HLE's form (sorted, bins of 100, RMS ×100), graded samples only."""
    calibration_ece: float | None = None
    """Equal-width 10-bin expected calibration error (0..1), graded samples only."""
    mean_output_tokens: float = 0.0
    """Decoded tokens per task (the E³ denominator)."""


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default).

    Unlike a percentile bootstrap on 0/1 outcomes, it is not degenerate at 0 or n successes:
    0 of 4 gives (0.00, 0.49), not (0.00, 0.00)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def latest_samples(samples: Iterable[SampleLog]) -> tuple[list[SampleLog], dict[tuple[str, str, str, str], SampleLog]]:
    """The finished sample per (run, task), and the errored ones no finished sample replaced."""
    done: dict[tuple[str, str, str, str], SampleLog] = {}
    errored: dict[tuple[str, str, str, str], SampleLog] = {}
    for s in samples:
        (done if s.status == "done" else errored)[s.key] = s
    return list(done.values()), {k: v for k, v in errored.items() if k not in done}


def summarize(samples: Iterable[SampleLog], runs: Collection[str] | None = None) -> list[Row]:
    """One row per (run, strategy, budget); ``runs`` limits the report to those run ids."""
    chosen = [s for s in samples if runs is None or s.run in runs]
    done, errored = latest_samples(chosen)
    groups: dict[tuple[str, str, str], list[SampleLog]] = defaultdict(list)
    for s in done:
        groups[(s.run, s.strategy, s.budget)].append(s)
    error_counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for s in errored.values():
        error_counts[(s.run, s.strategy, s.budget)] += 1
        groups.setdefault((s.run, s.strategy, s.budget), [])
    return [_row(key, group, error_counts[key]) for key, group in sorted(groups.items())]


def _row(key: tuple[str, str, str], group: list[SampleLog], errors: int) -> Row:
    run, strategy, budget = key
    n = len(group)
    correct = sum(1 for s in group if s.correct)
    tokens = [s.usage.get("input_tokens", 0) + s.usage.get("output_tokens", 0) for s in group]
    mean_tokens = statistics.fmean(tokens) if group else 0.0
    decoded = statistics.fmean(s.usage.get("output_tokens", 0) for s in group) if group else 0.0
    accuracy = correct / n if n else 0.0
    known = [s for s in group if s.correct_any is not None]
    rated = [s for s in group if s.confidence is not None]
    conf, hits = [s.confidence or 0.0 for s in rated], [s.correct for s in rated]
    any_correct = sum(1 for s in known if s.correct_any)

    def mean(values: Iterable[float]) -> float:
        items = list(values)
        return statistics.fmean(items) if items else 0.0

    return Row(
        strategy,
        budget,
        n,
        accuracy,
        *wilson_interval(correct, n),
        mean_tokens,
        mean(sum(s.usage.get("tool_units", {}).values()) for s in group),
        mean(s.cost_usd for s in group),
        cost_per_correct(sum(s.cost_usd for s in group), correct),
        e3(accuracy, decoded) if decoded > 0 else 0.0,
        mean(s.seconds for s in group),
        pass_at_n=any_correct / len(known) if known else None,
        pass_ci=wilson_interval(any_correct, len(known)) if known else None,
        errors=errors,
        overruns=sum(1 for s in group if s.overrun),
        run=run,
        calibration_hle=calibration_error_hle(conf, hits) if rated else None,
        calibration_ece=calibration_error(conf, hits) if rated else None,
        mean_output_tokens=decoded,
    )


def usd(value: float) -> str:
    """Dollars readable at any scale: ``0`` (a free model, no tools), ``0.00042``, ``0.0310``."""
    if value == 0:
        return "0"
    return f"{value:.4f}" if value >= 0.01 else f"{value:.2g}"


def _calibration(r: Row) -> str:
    if r.calibration_hle is None or r.calibration_ece is None:
        return "–"
    return f"{r.calibration_hle:.1f} / {r.calibration_ece:.3f}"


def markdown(rows: list[Row]) -> str:
    lines = [
        "| strategy | budget | n | accuracy (95% Wilson CI) | pass@N (95% CI) | tokens/task | tool units/task "
        "| $/task | $/correct | E³ (acc²/decoded tokens) | s/task | errors | overruns "
        "| calibration error (HLE ×100 / 10-bin ECE) | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_correct = "–" if r.cost_per_correct == float("inf") else usd(r.cost_per_correct)
        pass_n = (
            "–"
            if r.pass_at_n is None or r.pass_ci is None
            else (f"{r.pass_at_n:.2f} ({r.pass_ci[0]:.2f}–{r.pass_ci[1]:.2f})")
        )
        lines.append(
            f"| {r.strategy} | {r.budget} | {r.n} | {r.accuracy:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f}) | {pass_n} "
            f"| {r.mean_tokens:,.0f} | {r.mean_tool_units:.1f} | {usd(r.mean_cost_usd)} | {per_correct} "
            f"| {r.e3:.2e} | {r.mean_seconds:.1f} | {r.errors} | {r.overruns} | {_calibration(r)} | {r.run} |"
        )
    return "\n".join(lines)
