"""Efficiency metrics for accuracy-vs-cost reporting."""

from __future__ import annotations

import math


def e3(accuracy: float, mean_tokens: float) -> float:
    """E³ = A · (A / T) = A² / T (Plan-and-Budget, arXiv 2505.16122).

    T is the mean number of *decoded* tokens per query, as in the official evaluation (the report
    passes output tokens, reasoning included, not input + output: in multi-step agents the input
    tokens dominate and would flip rankings).

    Squaring the accuracy penalises "answer less to save tokens". The paper's scale (A in percent
    or as a fraction) is not stated in what we could read; report the units you use and compare E³
    only within one setting.
    """
    if mean_tokens <= 0:
        raise ValueError("mean_tokens must be > 0")
    return accuracy * accuracy / mean_tokens


def cost_per_correct(total_cost: float, correct: int) -> float:
    """Expected dollars per correct answer ("cost of pass"); infinite when nothing was correct."""
    return total_cost / correct if correct else float("inf")


def paired_discordance(a: dict[str, bool], b: dict[str, bool]) -> tuple[int, int, float]:
    """Two conditions on the same tasks (``task id -> correct``): how many tasks only ``a`` got
    right, how many only ``b``, and the exact two-sided McNemar p-value. Pairing removes the
    per-task difficulty both share, so it resolves differences that two independent Wilson
    intervals leave overlapping; only tasks both conditions ran count."""
    shared = a.keys() & b.keys()
    only_a = sum(a[t] and not b[t] for t in shared)
    only_b = sum(b[t] and not a[t] for t in shared)
    n, k = only_a + only_b, min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n if n else 1.0
    return only_a, only_b, min(1.0, 2 * tail)
