"""Each strategy's own typed options, below the agent layer; the loop's knobs stay in ``LoopConfig``.

A strategy is built from its options: ``BatsStrategy(BatsOptions(max_attempts=2))`` (or the same
as keywords, ``BatsStrategy(max_attempts=2)``), or by name, ``get_strategy("bats", {"max_attempts":
2})``. The models sit here rather than in each strategy's module so that settings can check a
config file's ``[strategy_options.bats]`` table without importing the agents (the layer contract);
each strategy module re-exports its own. A unit test holds this catalogue to the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thrifty.budget import Limits, parse_budget_spec
from thrifty.budget.limits import BudgetSpecError
from thrifty.errors import ConfigError
from thrifty.strategy_names import SCHEDULES, Schedule, parse_strategy


class StrategyOptions(BaseModel):
    """Frozen and strict about names: a misspelt option is an error naming it, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class TrajectoryOptions(StrategyOptions):
    """How a strategy's trajectories use the loop (``react``, ``tracker``; the base of the others)."""

    stop_when_tool_exhausted: Literal["any", "all"] = "any"
    """BATS ends a trajectory when *any* tool budget is exhausted; "all" goes on while one tool has units."""
    keep_tool_responses: int | None = Field(default=None, ge=0)
    """Keep only the latest N tool responses verbatim in context; None keeps all."""


class BatsOptions(TrajectoryOptions):
    """BATS (:mod:`thrifty.agents.strategies.bats`); ``max_attempts`` and ``trajectory_chars`` are thrifty's."""

    keep_tool_responses: int | None = Field(default=1, ge=0)
    """BATS keeps only the latest tool response in context (Table 6)."""
    early_stop: bool = False
    """Return the first answer the verifier calls SUCCESS (``bats-early``)."""
    max_attempts: int | None = Field(default=None, ge=1)
    trajectory_chars: int | None = Field(default=None, ge=1)
    """Cut each step and tool output shown to the verifier and judge to this many characters."""


class SequentialOptions(TrajectoryOptions):
    """Sequential scaling (:mod:`thrifty.agents.strategies.scaling`)."""

    max_refusals: int = Field(default=5, ge=1)
    """Answers in a row without a tool call before the answer is accepted (the paper's five)."""


class ParallelOptions(TrajectoryOptions):
    """Parallel scaling (:mod:`thrifty.agents.strategies.scaling`)."""

    n: int = Field(default=4, ge=1)
    aggregate: Literal["majority", "best_of_n", "pass_at_n"] = "majority"
    per_run: Limits | None = None
    """Each run's limits (a budget string in a config file); None: an even share of the run's."""
    temperature: float = Field(default=0.7, ge=0.0, allow_inf_nan=False)
    vote: Literal["judge", "string"] = "judge"
    """How a majority is found: the BATS judge ("judge") or a normalised string count ("string")."""

    @field_validator("per_run", mode="before")
    @classmethod
    def _budget(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return parse_budget_spec(value)
        except BudgetSpecError as exc:
            raise ValueError(str(exc)) from None


class PlanBudgetOptions(TrajectoryOptions):
    """Plan-and-Budget (:mod:`thrifty.agents.strategies.plan_budget`)."""

    schedule: Schedule = "polynomial"
    domain: str = "multi-hop web research"
    synthesis_share: float = Field(default=0.15, ge=0.0, lt=1.0)
    """``hard_caps`` only: the share of the token budget kept for the synthesis call."""
    hard_caps: bool = False
    """thrifty's variant: each sub-question in its own child ledger capped at its share."""


_CATALOGUE: dict[str, tuple[type[StrategyOptions], dict[str, object]]] = {
    "react": (TrajectoryOptions, {}),
    "tracker": (TrajectoryOptions, {}),
    "bats": (BatsOptions, {}),
    "bats-early": (BatsOptions, {"early_stop": True}),
    "sequential": (SequentialOptions, {}),
    "parallel": (ParallelOptions, {"aggregate": "majority"}),
    "parallel-bon": (ParallelOptions, {"aggregate": "best_of_n"}),
    "parallel-pass": (ParallelOptions, {"aggregate": "pass_at_n"}),
    "plan-budget": (PlanBudgetOptions, {}),
    **{f"plan-budget-{s}": (PlanBudgetOptions, {"schedule": s}) for s in SCHEDULES},
}
"""Each name's options type and the values its name implies (``bats-early``: ``early_stop``).
The particle strategies (``pf:8`` …) take none: their one setting is the count in the name."""

INTERACTIVE: dict[str, object] = {"stop_when_tool_exhausted": "all"}
"""What ``thrifty ask`` and ``chat`` give every strategy that takes it: a spent search leaves browse
usable (the library default is BATS's "any")."""


def option_names(name: str) -> frozenset[str]:
    """The options strategy ``name`` takes (none for the particle strategies)."""
    entry = _CATALOGUE.get(parse_strategy(name)[0])
    return frozenset(entry[0].model_fields) if entry else frozenset()


def options_for(
    name: str,
    table: Mapping[str, Mapping[str, object]] | None = None,
    defaults: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The options to build ``name`` with: the ``defaults`` it takes, overlaid by its entry in
    ``table`` (a config file's ``[strategy_options]``, keyed by strategy name)."""
    takes = option_names(name)
    chosen = {k: v for k, v in (defaults or {}).items() if k in takes}
    return {**chosen, **(table or {}).get(parse_strategy(name)[0], {})}


def strategy_options(name: str, given: Mapping[str, object] | None = None) -> StrategyOptions | None:
    """``name``'s typed options (what its name implies, overlaid by ``given``), None for a strategy
    that takes none; a :class:`ConfigError` naming the option (``strategy_options.bats.max_attempts``)."""
    base, _ = parse_strategy(name)
    entry = _CATALOGUE.get(base)
    if entry is None:
        if given:
            raise ConfigError(f"strategy_options.{base}", f"{base!r} takes no options (got {', '.join(given)})")
        return None
    kind, implied = entry
    try:
        return kind.model_validate({**implied, **(given or {})})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in (base, *error["loc"]))
        raise ConfigError(f"strategy_options.{where}", error["msg"]) from None
