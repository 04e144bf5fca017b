"""Attack suite: the calculator must answer (or refuse) fast, because it runs on the event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from thrifty.backends.base import ChatRequest, Completion
from thrifty.errors import ToolError
from thrifty.tools.base import ToolContext
from thrifty.tools.calculator import CalculatorTool, evaluate


@pytest.mark.parametrize(
    "expression",
    [
        "((7**999)**999)**20",
        "((7**999)**999)**100",
        "(7**999)**999",
        "10**999 * 10**999 * 10**999 * 10**999",
        "factorial(1000) * factorial(1000)",
        "round(5, -1000000000)",
        "factorial(10**6)",
        "-" * 1900 + "1",
        "(" * 300 + "1" + ")" * 300,
        "2**10001",
        "(10**3000) * (10**3000)",
        "1+" * 1500 + "1",
        "1" * 5000,
    ],
)
def test_calculator_refuses_work_it_cannot_finish_fast(expression: str) -> None:
    start = time.monotonic()
    with pytest.raises(ToolError):
        evaluate(expression)
    assert time.monotonic() - start < 1.0  # refused in microseconds; computing it takes minutes


def test_calculator_still_computes_big_exact_results() -> None:
    assert evaluate("2**9999") == 2**9999
    assert str(evaluate("factorial(1000)")).startswith("40238726")
    assert evaluate("(7**999) % 1000") == pow(7, 999, 1000)
    assert evaluate("1 ** (10**100)") == 1 and evaluate("2 ** -(10**100)") == 0.0


async def _no_model(request: ChatRequest) -> Completion:
    raise AssertionError("the calculator makes no model calls")


async def test_a_hostile_calculation_does_not_block_the_event_loop() -> None:
    """While the calculator refuses ``((7**999)**999)**20`` twenty times, a concurrent task keeps ticking."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    before, start = ticks, time.monotonic()
    tool = CalculatorTool()
    for _ in range(20):
        with pytest.raises(ToolError):
            await tool.run({"expression": "((7**999)**999)**20"}, ToolContext(complete=_no_model))
        await asyncio.sleep(0.01)
    task.cancel()
    assert time.monotonic() - start < 5.0 and ticks - before >= 5
