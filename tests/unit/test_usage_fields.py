"""Usage arithmetic and serialisation are derived from its fields: every field is summed, released
and written, so none can be forgotten (release once dropped cached, reasoning and tool units)."""

from dataclasses import fields

import pytest

from thrifty.budget import Ledger, Limits, ModelReservation, Usage

FULL = Usage(
    requests=2,
    input_tokens=100,
    cached_tokens=40,
    output_tokens=30,
    reasoning_tokens=10,
    tool_units={"search": 3, "browse": 1},
    cost_usd=0.125,
)


def test_every_field_is_set_in_the_sample() -> None:
    # guards the tests below: a new Usage field must be given a non-zero value here
    empty = Usage()
    assert all(getattr(FULL, f.name) != getattr(empty, f.name) for f in fields(Usage))


def test_addition_sums_every_field() -> None:
    twice = FULL + FULL
    for f in fields(Usage):
        if f.name == "tool_units":
            assert dict(twice.tool_units) == {"search": 6, "browse": 2}
        else:
            assert getattr(twice, f.name) == 2 * getattr(FULL, f.name)


def test_minus_takes_every_field_away_and_floors_at_zero() -> None:
    assert (FULL + FULL).minus(FULL) == FULL
    drained = FULL.minus(FULL + FULL)
    assert all(getattr(drained, f.name) == 0 for f in fields(Usage) if f.name != "tool_units")
    assert dict(drained.tool_units) == {"search": 0, "browse": 0}


def test_release_gives_back_every_field_of_the_reservation() -> None:
    parent = Ledger(Limits(total_tokens=10_000))
    child = parent.child(Limits(total_tokens=5_000))
    reservation = ModelReservation(max_tokens=30, input_tokens=100, timeout_seconds=None, held=FULL)
    child._hold(FULL)
    assert parent.pending == FULL
    child.release(reservation)
    for node in (child, parent):
        assert node.pending.cached_tokens == 0
        assert node.pending.reasoning_tokens == 0
        assert node.pending.tool_calls == 0
        assert node.pending.total_tokens == 0 and node.pending.cost_usd == 0


def test_release_after_a_real_reservation_leaves_nothing_pending() -> None:
    ledger = Ledger(Limits(total_tokens=1000, usd=1.0))
    reservation = ledger.reserve_model_call("gpt-4o-mini", 100, 50)
    assert ledger.pending.requests == 1
    ledger.release(reservation)
    assert ledger.pending.total_tokens == 0 and ledger.pending.requests == 0 and ledger.pending.cost_usd == 0


def test_json_form_has_every_field_and_reads_back() -> None:
    data = FULL.to_dict()
    assert set(data) == {f.name for f in fields(Usage)}
    assert data["tool_units"] == {"search": 3, "browse": 1}
    assert Usage.from_dict(data) == FULL


def test_cost_is_written_rounded_and_tool_units_stay_read_only() -> None:
    noisy = Usage(cost_usd=0.1 + 0.2)
    assert noisy.to_dict()["cost_usd"] == 0.3
    with pytest.raises(TypeError):
        FULL.tool_units["search"] = 9  # type: ignore[index]


def test_a_dict_written_by_the_old_hand_serialiser_loads() -> None:
    # the exact shape Usage.to_dict wrote before it was derived from the fields
    old = {
        "requests": 1,
        "input_tokens": 12,
        "cached_tokens": 0,
        "output_tokens": 3,
        "reasoning_tokens": 0,
        "tool_units": {"search": 1},
        "cost_usd": 0.001,
    }
    assert Usage.from_dict(old) == Usage(1, 12, 0, 3, 0, {"search": 1}, 0.001)
    assert Usage.from_dict({"requests": 1}) == Usage(requests=1)


def test_a_malformed_dict_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Usage.from_dict({"requests": "many"})
    with pytest.raises(ValueError, match="negative"):
        Usage.from_dict({"requests": -1})
