"""The example apps under examples/ run end to end on the embedded model (as a user would run them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.live_model

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_example(name: str, embedded_server: str, *args: str) -> list[dict]:
    env = {**os.environ, "THRIFTY_BASE_URL": embedded_server}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_asyncio_example(embedded_server: str) -> None:
    lines = run_example("asyncio_app.py", embedded_server)
    assert len(lines) == 2
    for line in lines:
        assert line["stop_reason"] in ("answered", "budget_exhausted", "stalled")
        assert 0 < line["tokens"] <= 20000
        assert line["tool_units"].get("search", 0) <= 2 and line["tool_units"].get("browse", 0) <= 2


def test_langgraph_example(embedded_server: str, tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    [line] = run_example("langgraph_app.py", embedded_server, str(tmp_path / "checkpoints.sqlite"))
    assert line["stop_reason"] in ("answered", "budget_exhausted", "stalled", "cancelled")
    assert "tokens" in line["report"] and line["approvals"] >= 0
    assert (tmp_path / "checkpoints.sqlite").is_file()
