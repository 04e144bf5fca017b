"""The numerics of particle filtering: log-weights, effective sample size, resampling, annealing.

Pure functions over plain lists so each piece is tested on synthetic weights (no model needed).
Formulas follow Puri et al. 2025 (arXiv 2502.01618) and its_hub's ``EntropicParticleFiltering``
(ePF, arXiv 2510.05825); see ``shared/docs/algorithms.md`` §3.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal

EPS = 1e-7
"""Scores are clipped to [EPS, 1 − EPS] before the logit (its_hub's value)."""

Aggregation = Literal["last", "min", "prod", "mean"]
ResampleMethod = Literal["multinomial", "systematic"]
AnnealMethod = Literal["ess", "entropy", "base"]


def clip(p: float) -> float:
    return min(1.0 - EPS, max(EPS, p))


def logit(score: float) -> float:
    """Log-weight of a PRM score s ∈ (0, 1): log s − log(1 − s)."""
    s = clip(score)
    return math.log(s) - math.log1p(-s)


def aggregate(scores: Sequence[float], how: Aggregation = "last") -> float:
    """One score for a partial solution from its per-step scores (0.5, "no opinion", when empty)."""
    if not scores:
        return 0.5
    if how == "last":
        return scores[-1]
    if how == "min":
        return min(scores)
    if how == "prod":
        return math.prod(scores)
    return sum(scores) / len(scores)


def softmax(log_weights: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Normalised probabilities of ``log_weights / temperature`` (numerically stable)."""
    if not log_weights:
        return []
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    scaled = [w / temperature for w in log_weights]
    top = max(scaled)
    exps = [math.exp(w - top) for w in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def ess(probabilities: Sequence[float]) -> float:
    """Effective sample size 1 / Σ pᵢ² (probabilities clipped as in its_hub): N when uniform, 1 when degenerate."""
    return 1.0 / sum(clip(p) ** 2 for p in probabilities)


def normalized_entropy(probabilities: Sequence[float]) -> float:
    """−Σ p log p / log N ∈ [0, 1]; 1 for a single particle (nothing to lose)."""
    n = len(probabilities)
    if n <= 1:
        return 1.0
    return -sum(p * math.log(p) for p in probabilities if p > 0) / math.log(n)


def annealing_temperature(
    probabilities: Sequence[float],
    step: int,
    max_steps: int,
    *,
    method: AnnealMethod = "ess",
    ess_threshold: float = 0.5,
    early_phase: float = 0.5,
    base_value: float = 2.0,
) -> float:
    """Entropic Annealing: the resampling temperature at ``step`` (1 = no annealing).

    Only while the ESS ratio is below ``ess_threshold`` and the run is in its early phase
    (t / T_max < ``early_phase``): an overconfident early PRM is what collapses the particles.

    - ``ess``:     T = max(1, N/ESS · (1 − t/T_max))   (its_hub default; the paper's β⁻¹)
    - ``entropy``: β = H_n + (1 − H_n)·t/T_max, T = max(1, 1/β)
    - ``base``:    T = max(1, base_value − t/T_max)
    """
    n = len(probabilities)
    if n == 0:
        return 1.0
    ratio = ess(probabilities) / n
    progress = step / max(1, max_steps)
    if ratio >= ess_threshold or progress >= early_phase:
        return 1.0
    if method == "ess":
        return max(1.0, (1.0 / ratio) * (1.0 - progress))
    if method == "entropy":
        h = normalized_entropy(probabilities)
        beta = h + (1.0 - h) * progress
        return max(1.0, 1.0 / beta) if beta > 0 else float(n)
    return max(1.0, base_value - progress)


def multinomial_resample(probabilities: Sequence[float], rng: random.Random, n: int | None = None) -> list[int]:
    """``n`` ancestor indices drawn independently ∝ probabilities (with replacement)."""
    n = len(probabilities) if n is None else n
    return rng.choices(range(len(probabilities)), weights=probabilities, k=n)


def systematic_resample(probabilities: Sequence[float], rng: random.Random, n: int | None = None) -> list[int]:
    """Systematic resampling: positions (k + U)/n for one shared U, walked along the cumulative sum.

    Lower variance than multinomial: a particle with probability p gets ⌊np⌋ or ⌈np⌉ copies.
    """
    n = len(probabilities) if n is None else n
    total = sum(probabilities)
    u = rng.random()
    out: list[int] = []
    cumulative = 0.0
    index = 0
    for k in range(n):
        position = (k + u) / n * total
        while index < len(probabilities) - 1 and cumulative + probabilities[index] < position:
            cumulative += probabilities[index]
            index += 1
        out.append(index)
    return out


def resample(
    probabilities: Sequence[float], rng: random.Random, method: ResampleMethod, n: int | None = None
) -> list[int]:
    if method == "systematic":
        return systematic_resample(probabilities, rng, n)
    return multinomial_resample(probabilities, rng, n)


def lookahead_log_weight(current: float, lookahead: float | None, weight: float) -> float:
    """Look-ahead Modulation: w̃ = (1 − λ)·logit(s_t) + λ·logit(s'_{t+1}) in log-weight space.

    ``current`` and ``lookahead`` are already log-weights; with no look-ahead (the particle has
    finished) the current weight stands alone.
    """
    if lookahead is None:
        return current
    return (1.0 - weight) * current + weight * lookahead
