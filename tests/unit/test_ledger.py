import pytest

from thrifty.budget import BudgetExceeded, FakeClock, Ledger, LimitKind, Limits, ModelPrice, PriceTable, Usage


def charge(ledger: Ledger, inp: int, out: int, model: str = "m") -> None:
    ledger.charge_model(model, Usage(requests=1, input_tokens=inp, output_tokens=out))


def test_max_tokens_is_clipped_to_total_token_headroom() -> None:
    ledger = Ledger(Limits(total_tokens=1000))
    charge(ledger, 300, 100)
    res = ledger.reserve_model_call("m", input_tokens=400, max_tokens=1000)
    assert res.max_tokens == 200  # 1000 - 400 used - 400 prompt


def test_output_limit_clips_and_then_refuses() -> None:
    ledger = Ledger(Limits(output_tokens=50))
    res = ledger.reserve_model_call("m", 10, 500)
    assert res.max_tokens == 50
    ledger.release(res)
    charge(ledger, 10, 50)
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve_model_call("m", 10, 500)
    assert info.value.kind is LimitKind.OUTPUT_TOKENS


def test_input_and_request_limits_refuse_before_the_call() -> None:
    ledger = Ledger(Limits(input_tokens=100, requests=1))
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve_model_call("m", 101)
    assert info.value.kind is LimitKind.INPUT_TOKENS
    charge(ledger, 10, 1)
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve_model_call("m", 1)
    assert info.value.kind is LimitKind.REQUESTS


def test_dollar_limit_clips_output_by_price() -> None:
    prices = PriceTable(models={"paid": ModelPrice(input_per_mtok=1.0, output_per_mtok=10.0)})
    ledger = Ledger(Limits(usd=0.001), prices=prices)
    res = ledger.reserve_model_call("paid", input_tokens=500, max_tokens=10_000)
    # $0.001 - 500 * $1e-6 = $0.0005 left for output at $1e-5 per token → 50 tokens
    assert res.max_tokens == 50


def test_cached_tokens_are_priced_at_the_cache_rate() -> None:
    price = ModelPrice(input_per_mtok=2.0, cached_input_per_mtok=0.5, output_per_mtok=8.0)
    assert price.cost(1_000_000, 600_000, 0) == pytest.approx(400_000 * 2e-6 + 600_000 * 0.5e-6)


def test_tool_units_are_granted_up_to_what_remains_and_priced() -> None:
    ledger = Ledger(Limits(tools={"search": 3}))
    entry = ledger.spend_tool("search", 5)
    assert entry.usage.tool("search") == 3
    assert ledger.used.cost_usd == pytest.approx(0.003)  # BATS: $0.001 per unit
    with pytest.raises(BudgetExceeded) as info:
        ledger.spend_tool("search", 1)
    assert info.value.limit_name == "tool:search"


def test_unlimited_tools_are_still_priced_against_a_dollar_limit() -> None:
    ledger = Ledger(Limits(usd=0.0025))
    assert ledger.spend_tool("browse", 10).usage.tool("browse") == 2
    with pytest.raises(BudgetExceeded) as info:
        ledger.spend_tool("browse", 1)
    assert info.value.kind is LimitKind.USD


def test_child_charges_propagate_and_parent_limits_bind_the_child() -> None:
    parent = Ledger(Limits(total_tokens=1000))
    child = parent.child(Limits(total_tokens=5000), label="sub")
    charge(child, 100, 50)
    assert parent.used.total_tokens == 150
    assert child.remaining("total_tokens") == 850  # the parent's headroom is tighter than the child's
    with pytest.raises(BudgetExceeded) as info:
        child.reserve_model_call("m", 900, 100)
    assert info.value.ledger == "run"


def test_child_limit_trips_before_parent() -> None:
    parent = Ledger(Limits(tools={"search": 10}))
    child = parent.child(Limits(tools={"search": 2}), label="sub")
    assert child.spend_tool("search", 5).usage.tool("search") == 2
    assert parent.tool_remaining("search") == 8
    with pytest.raises(BudgetExceeded) as info:
        child.spend_tool("search", 1)
    assert info.value.ledger == "run/sub"


def test_reservations_hold_headroom_for_concurrent_calls() -> None:
    ledger = Ledger(Limits(output_tokens=100))
    first = ledger.reserve_model_call("m", 10, 80)
    second = ledger.reserve_model_call("m", 10, 80)
    assert (first.max_tokens, second.max_tokens) == (80, 20)
    with pytest.raises(BudgetExceeded):
        ledger.reserve_model_call("m", 10, 80)
    ledger.charge_model("m", Usage(requests=1, input_tokens=10, output_tokens=5), reservation=first)
    assert ledger.remaining("output_tokens") == 75  # 100 - 5 used - 20 still held by `second`


def test_overrun_is_recorded_not_silent() -> None:
    ledger = Ledger(Limits(total_tokens=100))
    res = ledger.reserve_model_call("m", 50, 50)
    entry = ledger.charge_model("m", Usage(requests=1, input_tokens=70, output_tokens=50), reservation=res)
    assert entry.overrun
    error = ledger.exceeded()
    assert error is not None and error.kind is LimitKind.TOTAL_TOKENS


def test_time_limit_uses_the_injected_clock() -> None:
    clock = FakeClock()
    ledger = Ledger(Limits(seconds=10), clock=clock)
    assert ledger.reserve_model_call("m", 1).timeout_seconds == pytest.approx(10)
    clock.advance(10)
    with pytest.raises(BudgetExceeded) as info:
        ledger.spend_tool("search")
    assert info.value.kind is LimitKind.SECONDS


def test_view_is_a_snapshot() -> None:
    ledger = Ledger(Limits(tools={"search": 4}, total_tokens=100))
    view = ledger.view()
    ledger.spend_tool("search", 1)
    assert view.remaining_tools["search"] == 4
    assert ledger.view().remaining_tools["search"] == 3
    assert ledger.view().fraction_remaining() == pytest.approx(0.75)
