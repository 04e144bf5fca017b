import pytest

from thrifty.budget import Limits, parse_budget_spec
from thrifty.budget.limits import BudgetSpecError


def test_full_spec_parses_every_kind() -> None:
    limits = parse_budget_spec("search=10,browse=10,tokens=20000,usd=0.05,seconds=120")
    assert limits.tools == {"search": 10, "browse": 10}
    assert limits.total_tokens == 20000
    assert limits.usd == pytest.approx(0.05)
    assert limits.seconds == 120


def test_aliases_and_suffixes() -> None:
    limits = parse_budget_spec(" tokens=20k , output=500, input_tokens=1_000, steps=4, cost=$0.5, time=30s ")
    assert (limits.total_tokens, limits.output_tokens, limits.input_tokens) == (20000, 500, 1000)
    assert limits.requests == 4
    assert limits.usd == 0.5
    assert limits.seconds == 30.0


def test_empty_spec_is_unlimited() -> None:
    assert parse_budget_spec("").is_unlimited


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("tokens=lots", "tokens"),
        ("search=-1", "search"),
        ("usd=abc", "usd"),
        ("search", "search"),
        ("tokens=10,tokens=20", "tokens"),
        ("se arch=1", "se arch"),
        ("search=1.5", "search"),
        ("seconds=inf", "seconds"),
    ],
)
def test_bad_specs_name_the_field(spec: str, field: str) -> None:
    with pytest.raises(BudgetSpecError) as info:
        parse_budget_spec(spec)
    assert info.value.field == field
    assert field in str(info.value)


def test_limits_reject_negative_values() -> None:
    with pytest.raises(BudgetSpecError, match="total_tokens"):
        Limits(total_tokens=-5)
    with pytest.raises(BudgetSpecError, match="search"):
        Limits(tools={"search": -1})
