from thrifty.agents.prompts.budget import render_budget_block
from thrifty.budget import Ledger, Limits, Regime


def test_block_matches_the_paper_format_for_search_and_browse() -> None:
    ledger = Ledger(Limits(tools={"search": 10, "browse": 5}))
    ledger.spend_tool("search", 3)
    assert render_budget_block(ledger.view()) == (
        "<budget>\n"
        "Query Budget Used: 3, Query Budget Remaining: 7\n"
        "URL Budget Used: 0, URL Budget Remaining: 5\n"
        "Make the best use of the available resources.\n"
        "</budget>"
    )


def test_token_cost_and_time_rows_appear_only_when_limited() -> None:
    ledger = Ledger(Limits(tools={"search": 1}, total_tokens=1000, usd=0.5))
    block = render_budget_block(ledger.view())
    assert "Token Budget Used: 0, Token Budget Remaining: 1000" in block
    assert "Cost Used: $0.0000, Cost Remaining: $0.5000" in block
    assert "Time" not in block


def test_regimes_follow_the_paper_thresholds() -> None:
    def regime(used: int) -> Regime:
        ledger = Ledger(Limits(tools={"search": 10, "browse": 100}))
        if used:
            ledger.spend_tool("search", used)
        return Regime.of(ledger.view())

    assert regime(0) is Regime.HIGH
    assert regime(3) is Regime.HIGH  # 70% remaining
    assert regime(4) is Regime.MEDIUM
    assert regime(7) is Regime.MEDIUM  # 30%
    assert regime(8) is Regime.LOW
    assert regime(9) is Regime.LOW  # 10%
    assert regime(10) is Regime.CRITICAL  # a tool at 0
