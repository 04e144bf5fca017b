"""The python sandbox and the calculator."""

from __future__ import annotations

import time

import pytest

from thrifty.errors import ToolError
from thrifty.tools.calculator import evaluate
from thrifty.tools.python import PythonTool


async def test_runs_code_and_captures_output() -> None:
    out, code = await PythonTool().execute("print(sum(range(10)))")
    assert (out.strip(), code) == ("45", 0)


async def test_infinite_loop_is_killed_on_time() -> None:
    tool = PythonTool(timeout_seconds=2, cpu_seconds=30)
    start = time.monotonic()
    out, code = await tool.execute("while True:\n    pass")
    assert code != 0
    assert "timed out" in out
    assert time.monotonic() - start < 10


async def test_memory_bomb_is_contained() -> None:
    out, code = await PythonTool(memory_mb=256).execute("x = bytearray(4 * 1024 ** 3)\nprint('allocated')")
    assert code != 0
    assert "MemoryError" in out
    assert "allocated" not in out


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.create_connection(('127.0.0.1', 9))",
        "import subprocess\nsubprocess.run(['ls'])",
        "import os\nos.system('echo hi')",
        "open('/usr/thrifty-escape.txt', 'w').write('x')",
        "import ctypes\nctypes.CDLL(None)",
    ],
)
async def test_forbidden_operations_fail(code: str) -> None:
    out, status = await PythonTool().execute(code)
    assert status != 0
    assert "PermissionError" in out and "sandbox" in out


async def test_writes_inside_the_working_folder_are_allowed() -> None:
    out, code = await PythonTool().execute("open('data.txt', 'w').write('ok')\nprint(open('data.txt').read())")
    assert (out.strip(), code) == ("ok", 0)


async def test_output_is_capped() -> None:
    out, _ = await PythonTool(max_output_chars=100).execute("print('x' * 100000)")
    assert len(out) < 200 and "truncated" in out


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("17 * 23", 391),
        ("2 ^ 10", 1024),
        ("(1 + 2) / 4", 0.75),
        ("sqrt(16) + pi - pi", 4.0),
        ("-3 // 2", -2),
        ("max(3, 9)", 9),
    ],
)
def test_calculator(expr: str, value: float) -> None:
    assert evaluate(expr) == pytest.approx(value)


@pytest.mark.parametrize("expr", ["__import__('os')", "2 ** 100000", "1 / 0", "x + 1", "open('f')", "factorial(5000)"])
def test_calculator_refuses(expr: str) -> None:
    with pytest.raises(ToolError):
        evaluate(expr)
