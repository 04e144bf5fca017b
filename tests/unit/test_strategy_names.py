"""Strategy names live below the agent layer: settings check them without importing the agents,
and the agents' registry offers exactly those names."""

from __future__ import annotations

import pytest

from thrifty.agents.strategies import _REGISTRY, get_strategy
from thrifty.errors import ConfigError
from thrifty.strategy_names import SIZED, STRATEGY_NAMES, parse_strategy


def test_the_registry_offers_exactly_the_listed_names() -> None:
    assert set(_REGISTRY) == STRATEGY_NAMES


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
