"""Strategies by name. New strategies register here (lazily, so optional ones cost nothing)."""

from __future__ import annotations

from collections.abc import Callable

from thrifty.agents.strategies.base import Strategy
from thrifty.agents.strategies.bats import BatsStrategy
from thrifty.agents.strategies.plan_budget import PlanAndBudgetStrategy
from thrifty.agents.strategies.scaling import ParallelStrategy, SequentialStrategy
from thrifty.agents.strategies.schedules import SCHEDULES
from thrifty.agents.strategies.single import ReactStrategy, TrackerStrategy
from thrifty.errors import ConfigError

_SIZED = ("pf", "epf", "best-of-n", "self-consistency")
"""Strategies that take a sample count: ``pf:8`` is particle filtering with 8 particles."""

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
    **{name: (lambda name=name: _particles(name, 4)) for name in ("greedy", *_SIZED)},  # type: ignore[misc]
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


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def get_strategy(name: str) -> Strategy:
    base, _, count = name.partition(":")
    if count and base in _SIZED:
        if not count.isdigit() or int(count) < 1:
            raise ConfigError("strategy", f"{name!r}: the count after ':' must be a positive integer")
        return _particles(base, int(count))
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ConfigError(
            "strategy", f"unknown strategy {name!r}; choose one of {', '.join(strategy_names())}"
        ) from None


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
