"""The names of the strategies, below the agent layer.

Settings and the CLI check a ``strategy`` value here without importing the agents; the agent layer
(:mod:`thrifty.agents.strategies`) maps each name to its strategy, and a unit test holds the two
to the same set.
"""

from __future__ import annotations

from typing import Literal

from thrifty.errors import ConfigError

Schedule = Literal["constant", "linear", "polynomial", "exponential", "cosine"]
SCHEDULES: tuple[Schedule, ...] = ("constant", "linear", "polynomial", "exponential", "cosine")
"""Plan-and-Budget's budget schedules: ``plan-budget-cosine`` …"""

SIZED = ("pf", "epf", "best-of-n", "self-consistency")
"""Strategies that take a sample count: ``pf:8`` is particle filtering with 8 particles."""

STRATEGY_NAMES: frozenset[str] = frozenset(
    {
        "react",
        "tracker",
        "bats",
        "bats-early",
        "sequential",
        "parallel",
        "parallel-bon",
        "parallel-pass",
        "plan-budget",
        *(f"plan-budget-{s}" for s in SCHEDULES),
        "greedy",
        *SIZED,
    }
)


def strategy_names() -> list[str]:
    return sorted(STRATEGY_NAMES)


def parse_strategy(name: str) -> tuple[str, int | None]:
    """``name`` as (registered name, sample count or None: ``pf:8`` → ``("pf", 8)``); a
    :class:`ConfigError` on the ``strategy`` field for anything else."""
    base, _, count = name.partition(":")
    if count and base in SIZED:
        if not count.isdigit() or int(count) < 1:
            raise ConfigError("strategy", f"{name!r}: the count after ':' must be a positive integer")
        return base, int(count)
    if name not in STRATEGY_NAMES:
        raise ConfigError("strategy", f"unknown strategy {name!r}; choose one of {', '.join(strategy_names())}")
    return name, None
