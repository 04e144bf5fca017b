"""The python sandbox and the calculator (the sandbox's attack suite is test_sandbox_attacks.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.processes import require_sandbox
from thrifty.errors import ConfigError, ToolError
from thrifty.tools.calculator import evaluate
from thrifty.tools.python import PythonTool


@pytest.fixture
def sandboxed() -> None:
    require_sandbox()


async def test_runs_code_and_captures_output(sandboxed: None) -> None:
    out, code = await PythonTool().execute("print(sum(range(10)))")
    assert (out.strip(), code) == ("45", 0)


async def test_infinite_loop_is_killed_on_time(sandboxed: None) -> None:
    tool = PythonTool(timeout_seconds=2, cpu_seconds=30)
    start = time.monotonic()
    out, code = await tool.execute("while True:\n    pass")
    assert code != 0
    assert "timed out" in out
    assert time.monotonic() - start < 10


async def test_memory_bomb_is_contained(sandboxed: None) -> None:
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
async def test_forbidden_operations_fail(sandboxed: None, code: str) -> None:
    out, status = await PythonTool().execute(code)
    assert status != 0
    assert "PermissionError" in out and "sandbox" in out


async def test_writes_inside_the_working_folder_are_allowed(sandboxed: None) -> None:
    out, code = await PythonTool().execute("open('data.txt', 'w').write('ok')\nprint(open('data.txt').read())")
    assert (out.strip(), code) == ("ok", 0)


async def test_output_is_capped(sandboxed: None) -> None:
    out, _ = await PythonTool(max_output_chars=100).execute("print('x' * 100000)")
    assert len(out) < 200 and "truncated" in out


def test_without_a_sandbox_the_tool_refuses_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError) as err:
        PythonTool()
    message = str(err.value)
    assert "\n" not in message and "bubblewrap" in message and "unsafe_no_sandbox=True" in message


async def test_unsafe_mode_is_opt_in_by_name_and_keeps_the_hook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    tool = PythonTool(unsafe_no_sandbox=True)
    assert (await tool.execute("print(6 * 7)"))[0].strip() == "42"
    canary = tmp_path / "canary.txt"
    canary.write_text("keep")
    out, status = await tool.execute(f"import os\nos.remove({bytes(canary)!r})")
    assert status != 0 and "PermissionError: sandbox" in out
    assert canary.read_text() == "keep"


def test_settings_mistakes_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="audit_hook"):
        PythonTool(unsafe_no_sandbox=True, audit_hook=False)
    with pytest.raises(ConfigError, match="max_concurrent"):
        PythonTool(unsafe_no_sandbox=True, max_concurrent=0)
    with pytest.raises(ConfigError, match="read_only"):
        PythonTool(unsafe_no_sandbox=True, read_only=[tmp_path / "missing"])


async def test_read_only_paths_are_readable_in_the_sandbox(sandboxed: None, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    out, code = await PythonTool(read_only=[tmp_path]).execute(f"print(open('{tmp_path}/data.csv').read().split()[1])")
    assert (out.strip(), code) == ("1,2", 0)


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


def test_an_interpreter_below_tmp_is_bound_over_the_private_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI checks out into /tmp with its virtualenv inside: the sandbox's own /tmp must not hide it."""
    from thrifty.tools import sandbox

    monkeypatch.setattr(sandbox, "_python_dirs", lambda: ["/opt/python", "/tmp/ci/.venv", "/tmp/ci/.venv/bin"])
    limits = sandbox.SandboxLimits(memory_bytes=1 << 29, cpu_seconds=5, file_bytes=1 << 20, tmp_bytes=1 << 26)
    args = sandbox.command("bwrap", {}, 3, limits, ["python"])
    tmpfs = args.index("/tmp", args.index("--tmpfs"))
    binds = [args[i + 1] for i, a in enumerate(args) if a == "--ro-bind" and i > tmpfs]
    assert binds[:2] == ["/tmp/ci/.venv", "/tmp/ci/.venv/bin"]
    assert "/opt/python" not in binds  # bound with the system folders, before /tmp
    assert not any(a in ("--ro-bind", "--bind") and args[i + 1] == "/tmp" for i, a in enumerate(args))
