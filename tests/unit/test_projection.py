"""Budget projection rules, alone: when must a step be the last?"""

from thrifty.agents.projection import StepCosts, expected_step_out, finish_reason, token_shortfall
from thrifty.budget import BudgetView, Ledger, ModelPrice, parse_budget_spec

COSTS = StepCosts(prompt_tokens=1000, step_out=100, final_out=200, observation_tokens=400)


def view(spec: str) -> BudgetView:
    return Ledger(parse_budget_spec(spec)).view()


def test_expected_output_is_the_largest_recent_step_or_a_capped_guess() -> None:
    assert expected_step_out([10, 300, 20, 30, 40], 768) == 40
    assert expected_step_out([], 768) == 256
    assert expected_step_out([], 100) == 100


def test_any_spent_tool_ends_the_loop_unless_all_must_be_spent() -> None:
    v = view("search=1,browse=2")
    assert finish_reason(v, COSTS, tools=["search", "browse"], price=None) is None
    ledger = Ledger(parse_budget_spec("search=1,browse=2"))
    ledger.spend_tool("search", 1)
    spent = ledger.view()
    assert finish_reason(spent, COSTS, tools=["search", "browse"], price=None) == "Your search budget is exhausted."
    assert finish_reason(spent, COSTS, tools=["search", "browse"], price=None, tool_policy="all") is None


def test_the_last_request_is_kept_for_the_answer() -> None:
    assert finish_reason(view("requests=1"), COSTS, tools=[], price=None) == "This is your last allowed model call."


def test_token_budget_must_cover_this_step_the_next_prompt_and_an_answer() -> None:
    need = 1000 + 100 + (1000 + 100 + 400) + 200  # this prompt + step + next prompt + final answer
    assert token_shortfall(view(f"tokens={need}"), COSTS, None) is None
    assert token_shortfall(view(f"tokens={need - 1}"), COSTS, None) == "Your token budget is nearly spent."
    assert token_shortfall(view("output=299"), COSTS, None) == "Your output-token budget is nearly spent."


def test_dollars_are_projected_with_the_model_price() -> None:
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)
    cost = (1000 + 1500 + 300) / 1e6
    assert token_shortfall(view(f"usd={cost * 2}"), COSTS, price) is None
    assert token_shortfall(view(f"usd={cost / 2}"), COSTS, price) == "Your dollar budget is nearly spent."
