"""Strategies by name. A new strategy registers here (lazily, so optional ones cost nothing), its
name in :mod:`thrifty.strategy_names` and its options type in :mod:`thrifty.strategy_options`,
where settings check both without importing agents."""

from __future__ import annotations

from collections.abc import Mapping

from thrifty.agents.strategies.base import Strategy
from thrifty.agents.strategies.bats import BatsOptions, BatsStrategy
from thrifty.agents.strategies.plan_budget import PlanAndBudgetStrategy, PlanBudgetOptions
from thrifty.agents.strategies.scaling import ParallelOptions, ParallelStrategy, SequentialOptions, SequentialStrategy
from thrifty.agents.strategies.single import ReactStrategy, TrackerStrategy
from thrifty.strategy_names import parse_strategy, strategy_names
from thrifty.strategy_options import StrategyOptions, TrajectoryOptions, strategy_options


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


def _build(base: str, options: StrategyOptions) -> Strategy:
    """The strategy its options type stands for (``react`` and ``tracker`` share theirs)."""
    if isinstance(options, BatsOptions):
        return BatsStrategy(options)
    if isinstance(options, SequentialOptions):
        return SequentialStrategy(options)
    if isinstance(options, ParallelOptions):
        return ParallelStrategy(options)
    if isinstance(options, PlanBudgetOptions):
        return PlanAndBudgetStrategy(options)
    assert isinstance(options, TrajectoryOptions)
    return ReactStrategy(options) if base == "react" else TrackerStrategy(options)


def get_strategy(name: str, options: Mapping[str, object] | None = None) -> Strategy:
    """The strategy called ``name`` (``bats``, ``pf:8`` …) built with ``options`` over what its name
    implies; a :class:`~thrifty.errors.ConfigError` naming the field for a wrong name or option."""
    base, count = parse_strategy(name)
    typed = strategy_options(name, options)
    if typed is None:
        return _particles(base, count or 4)
    return _build(base, typed)


__all__ = [
    "BatsOptions",
    "BatsStrategy",
    "ParallelOptions",
    "ParallelStrategy",
    "PlanAndBudgetStrategy",
    "PlanBudgetOptions",
    "ReactStrategy",
    "SequentialOptions",
    "SequentialStrategy",
    "Strategy",
    "StrategyOptions",
    "TrackerStrategy",
    "TrajectoryOptions",
    "get_strategy",
    "strategy_names",
]
