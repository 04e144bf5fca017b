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
}


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def get_strategy(name: str) -> Strategy:
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
