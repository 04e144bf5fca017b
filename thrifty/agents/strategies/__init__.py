"""Strategies by name. A new strategy registers here (lazily, so optional ones cost nothing) and
its name in :mod:`thrifty.strategy_names`, where settings check names without importing agents."""

from __future__ import annotations

from collections.abc import Callable

from thrifty.agents.strategies.base import Strategy
from thrifty.agents.strategies.bats import BatsStrategy
from thrifty.agents.strategies.plan_budget import PlanAndBudgetStrategy
from thrifty.agents.strategies.scaling import ParallelStrategy, SequentialStrategy
from thrifty.agents.strategies.single import ReactStrategy, TrackerStrategy
from thrifty.strategy_names import SCHEDULES, SIZED, parse_strategy, strategy_names

_REGISTRY: dict[str, Callable[[], Strategy]] = {
    "react": ReactStrategy,
    "tracker": TrackerStrategy,
    "bats": BatsStrategy,
    "bats-early": lambda: BatsStrategy(early_stop=True),
    "sequential": SequentialStrategy,
    "parallel": lambda: ParallelStrategy(aggregate="majority"),
    "parallel-bon": lambda: ParallelStrategy(aggregate="best_of_n"),
    "parallel-pass": lambda: ParallelStrategy(aggregate="pass_at_n"),
    "plan-budget": PlanAndBudgetStrategy,
    **{f"plan-budget-{s}": (lambda s=s: PlanAndBudgetStrategy(schedule=s)) for s in SCHEDULES},  # type: ignore[misc]
    # Particle-based scaling and its baselines (tool-free, step-wise math-style reasoning).
    **{name: (lambda name=name: _particles(name, 4)) for name in ("greedy", *SIZED)},  # type: ignore[misc]
}


def _particles(name: str, n: int) -> Strategy:
    """Imported on use: the particle strategies are not needed by tool-using runs."""
    from thrifty.agents import particles

    if name == "pf":
        return particles.ParticleFilterStrategy(particles.FilterSettings(particles=n), name=f"pf:{n}")
    if name == "epf":
        return particles.ParticleFilterStrategy(particles.epf_settings(n), name=f"epf:{n}")
    if name == "best-of-n":
        return particles.BestOfNStrategy(n, name=f"best-of-n:{n}")
    if name == "self-consistency":
        return particles.SelfConsistencyStrategy(n, name=f"self-consistency:{n}")
    return particles.GreedyStrategy()


def get_strategy(name: str) -> Strategy:
    base, count = parse_strategy(name)
    return _particles(base, count) if count is not None else _REGISTRY[base]()


__all__ = [
    "BatsStrategy",
    "ParallelStrategy",
    "PlanAndBudgetStrategy",
    "ReactStrategy",
    "SequentialStrategy",
    "Strategy",
    "TrackerStrategy",
    "get_strategy",
    "strategy_names",
]
