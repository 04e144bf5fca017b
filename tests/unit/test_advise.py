"""``thrifty advise``: the cheapest strategy within noise of the most accurate, per budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.evals.advise import advice_markdown, advise
from thrifty.evals.log import SampleLog, append, open_log


def cell(strategy: str, budget: str, correct: int, n: int, usd: float, tokens: int = 1000) -> list[SampleLog]:
    usage = {"input_tokens": tokens - 100, "output_tokens": 100}
    return [
        SampleLog(f"t{i}", strategy, budget, "q", "a", "a", i < correct, "answered", None, usage, usd, 1.0)
        for i in range(n)
    ]


def test_the_cheapest_strategy_within_noise_of_the_best_is_picked() -> None:
    samples = [
        *cell("tracker", "5", 60, 100, 0.01),
        *cell("bats", "5", 62, 100, 0.03),
        *cell("react", "5", 20, 100, 0.001),
    ]
    [a] = advise(samples, {})
    assert a.leader.strategy == "bats" and a.pick.strategy == "tracker"
    assert set(a.within_noise) == {"bats", "tracker"}  # react's interval (0.13-0.29) is clear of bats'
    text = a.statement()
    assert "pick **tracker**" in text and "within noise" in text and "bats has the highest accuracy (0.62)" in text
    table = advice_markdown([a])
    assert "| tracker | 100 | 0.60 (0.50–0.69) | 0.0100 | 60.0 |" in table
    assert "| react | 100 | 0.20 (0.13–0.29) |" in table and table.rstrip().endswith("| no |")


def test_a_clear_winner_and_budgets_apart() -> None:
    samples = [*cell("bats", "10", 90, 100, 0.05), *cell("react", "10", 30, 100, 0.01), *cell("react", "2", 5, 10, 0.0)]
    two, ten = advise(samples, {})  # budgets in numeric order
    assert (ten.pick.strategy, ten.within_noise) == ("bats", ("bats",))
    assert "not noise" in ten.statement()
    assert "only strategy" in two.statement() and "n < 30" in two.statement()


def test_free_runs_are_compared_by_tokens_and_all_within_noise_is_said() -> None:
    samples = [*cell("pf:4", "0", 3, 8, 0.0, tokens=9000), *cell("self-consistency:4", "0", 2, 8, 0.0, tokens=3000)]
    [a] = advise(samples, {})
    assert a.by_tokens and a.pick.strategy == "self-consistency:4"
    assert "All strategies are within noise" in a.statement() and "3,000 tokens/task" in a.statement()
    assert "| pf:4 | 8 | 0.38 (0.14–0.69) | 0 | – |" in advice_markdown([a])


def test_cli_advise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log_path = tmp_path / "log.jsonl"
    log = open_log(log_path)
    for sample in [*cell("tracker", "3", 40, 50, 0.004), *cell("react", "3", 10, 50, 0.003)]:
        append(log, sample)
    log.close()
    assert main(["advise", str(log_path)]) == 0
    out = capsys.readouterr().out
    assert "pick **tracker**" in out and "| react | 50 |" in out
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["advise", str(empty)]) == 2
    assert "no eval samples" in capsys.readouterr().err
    assert main(["advise", str(log_path), "--run", "nope"]) == 2
