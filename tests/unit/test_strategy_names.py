"""Strategy names and options live below the agent layer: settings check them without importing
the agents, and the agents build exactly those names, each from its typed options."""

from __future__ import annotations

import pytest

from thrifty.agents.strategies import BatsStrategy, ParallelStrategy, get_strategy
from thrifty.errors import ConfigError
from thrifty.strategy_names import SIZED, STRATEGY_NAMES, parse_strategy
from thrifty.strategy_options import _CATALOGUE, BatsOptions, option_names, options_for, strategy_options


def test_every_listed_name_builds_and_only_the_particle_ones_take_no_options() -> None:
    for name in STRATEGY_NAMES:
        assert get_strategy(name).name.startswith(name.split("-")[0])
    assert set(_CATALOGUE) == STRATEGY_NAMES - {"greedy", *SIZED}


def test_a_name_implies_its_options_and_given_ones_go_over_them() -> None:
    early = get_strategy("bats-early", {"max_attempts": 2})
    assert isinstance(early, BatsStrategy) and early.name == "bats-early"
    assert early.options == BatsOptions(early_stop=True, max_attempts=2, keep_tool_responses=1)
    bon = get_strategy("parallel-bon", {"n": 2, "per_run": "search=1"})
    assert isinstance(bon, ParallelStrategy) and bon.name == "parallel-best_of_n"
    assert bon.options.n == 2 and bon.options.per_run is not None and bon.options.per_run.tools == {"search": 1}


@pytest.mark.parametrize(
    ("name", "options", "field"),
    [
        ("bats", {"max_attempts": 0}, "strategy_options.bats.max_attempts"),
        ("bats", {"max_atempts": 2}, "strategy_options.bats.max_atempts"),
        ("tracker", {"keep_tool_responses": "x"}, "strategy_options.tracker.keep_tool_responses"),
        ("parallel", {"per_run": "search=x"}, "strategy_options.parallel.per_run"),
        ("pf:8", {"n": 2}, "strategy_options.pf"),
    ],
)
def test_a_bad_option_is_a_config_error_naming_it(name: str, options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        strategy_options(name, options)
    assert caught.value.field == field


def test_the_options_to_build_with_keep_only_defaults_the_strategy_takes() -> None:
    policy = {"stop_when_tool_exhausted": "all"}
    assert options_for("pf:4", {}, policy) == {} and "n" in option_names("parallel")
    table = {"bats": {"stop_when_tool_exhausted": "any", "max_attempts": 2}}
    assert options_for("bats", table, policy) == {"stop_when_tool_exhausted": "any", "max_attempts": 2}
    assert options_for("tracker", table, policy) == policy


def test_keywords_and_an_options_object_are_the_same_and_validated() -> None:
    assert BatsStrategy(max_attempts=3).options == BatsStrategy(BatsOptions(max_attempts=3)).options
    assert BatsStrategy(BatsOptions(max_attempts=3), early_stop=True).options.max_attempts == 3
    with pytest.raises(ValueError, match="max_attempts"):
        BatsStrategy(max_attempts=-1)
    with pytest.raises(TypeError, match="BatsOptions"):
        BatsStrategy(3)  # type: ignore[arg-type]
    assert ParallelStrategy(3, vote="string").options == ParallelStrategy(n=3, vote="string").options


@pytest.mark.parametrize("name", ["pf:8", "best-of-n:2", "self-consistency:3", "epf:1"])
def test_a_sized_name_parses_and_builds_that_many(name: str) -> None:
    base, count = parse_strategy(name)
    assert base in SIZED and count == int(name.split(":")[1])
    assert get_strategy(name).name == name


@pytest.mark.parametrize(
    ("name", "words"),
    [("pf:0", "positive integer"), ("pf:x", "positive integer"), ("pf:", "unknown strategy"), ("bast", "unknown")],
)
def test_a_bad_name_is_a_config_error_on_the_strategy_field(name: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_strategy(name)
    assert caught.value.field == "strategy" and words in str(caught.value)
