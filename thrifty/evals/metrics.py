"""Efficiency metrics for accuracy-vs-cost reporting."""

from __future__ import annotations


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
