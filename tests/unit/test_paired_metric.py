"""The paired comparison the effects report prints beside the Wilson intervals."""

from __future__ import annotations

import pytest

from thrifty.evals.metrics import paired_discordance


def test_exact_mcnemar_on_the_discordant_tasks_only() -> None:
    none = {f"t{i}": i < 8 for i in range(20)}  # t0..t7 right
    low = {f"t{i}": 2 <= i < 4 or 8 <= i < 10 for i in range(20)}  # t2, t3 shared; t8, t9 only here
    only_none, only_low, p = paired_discordance(none, low)
    assert (only_none, only_low) == (6, 2)
    assert p == pytest.approx(2 * (1 + 8 + 28) / 256)  # two-sided binomial tail, n = 8, k = 2


def test_only_shared_tasks_count_and_no_discordance_is_p_one() -> None:
    a = {"x": True, "y": False, "z": True}
    b = {"x": True, "y": False, "w": False}
    assert paired_discordance(a, b) == (0, 0, 1.0)
    assert paired_discordance({"x": True}, {"x": False})[2] == 1.0  # one discordant task: p capped at 1
    assert paired_discordance({f"{i}": True for i in range(10)}, {f"{i}": False for i in range(10)})[2] < 0.01
