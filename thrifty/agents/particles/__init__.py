"""Particle-based inference-time scaling (PF, ePF) with process reward models, and its baselines."""

from __future__ import annotations

from thrifty.agents.particles.baselines import BestOfNStrategy, GreedyStrategy, SelfConsistencyStrategy
from thrifty.agents.particles.filter import FilterSettings, Generation, ParticleFilterStrategy
from thrifty.agents.particles.generation import Particle, StepSettings, extract_answer
from thrifty.agents.particles.prm import LLMJudgePRM, ProcessRewardModel, RewardModelPRM, SelfCertaintyPRM


def epf_settings(particles: int = 4, *, lookahead: float = 0.5, **overrides: object) -> FilterSettings:
    """ePF's defaults (its_hub): ESS annealing, threshold 0.5 in the first half, systematic resampling."""
    values: dict[str, object] = {
        "particles": particles,
        "annealing": "ess",
        "resampling": "systematic",
        "lookahead": lookahead,
    }
    values.update(overrides)
    return FilterSettings(**values)  # type: ignore[arg-type]


__all__ = [
    "BestOfNStrategy",
    "FilterSettings",
    "Generation",
    "GreedyStrategy",
    "LLMJudgePRM",
    "Particle",
    "ParticleFilterStrategy",
    "ProcessRewardModel",
    "RewardModelPRM",
    "SelfCertaintyPRM",
    "SelfConsistencyStrategy",
    "StepSettings",
    "epf_settings",
    "extract_answer",
]
