"""Plan-and-Budget budget schedules (Lin et al. 2025, arXiv 2505.16122; official code
``inference/_5_planned_local_weighted_model.py``): decaying weights front-load the budget on early
sub-questions, where epistemic uncertainty is highest.

    w_i ∝ credit_i · s(i, N),   tokens_i = floor(w_i · B),   leftover units to the largest weights
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thrifty.strategy_names import SCHEDULES, Schedule

__all__ = ["SCHEDULES", "Schedule", "allocate", "schedule_weight"]


def schedule_weight(schedule: Schedule, i: int, n: int) -> float:
    """s(i, N) for sub-question ``i`` of ``n`` (0-based), as in the official code."""
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return float(n - i)
    if schedule == "polynomial":
        return float((n - i) ** 2)
    if schedule == "exponential":
        return 0.9**i
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * i / (n - 1))) + 0.1 if n > 1 else 1.0
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def allocate(total: int, credits: Sequence[float], schedule: Schedule = "polynomial") -> list[int]:
    """Split ``total`` units over sub-questions; the parts always sum to ``total`` exactly."""
    n = len(credits)
    if n == 0:
        return []
    if total < 0:
        raise ValueError("total must be >= 0")
    raw = [max(float(c), 0.0) * schedule_weight(schedule, i, n) for i, c in enumerate(credits)]
    norm = sum(raw)
    weights = [w / norm for w in raw] if norm > 0 else [1.0 / n] * n
    parts = [math.floor(w * total) for w in weights]
    leftover = total - sum(parts)
    for i in sorted(range(n), key=lambda j: (-weights[j], j))[:leftover]:
        parts[i] += 1
    return parts
