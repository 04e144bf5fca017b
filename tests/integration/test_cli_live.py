"""The main job, as a newcomer runs it: ``thrifty ask`` with no endpoint starts the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.cli import main

pytestmark = pytest.mark.live_model


def test_ask_autostarts_the_embedded_model_and_prints_json(
    embedded_server: str, default_index_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THRIFTY_BASE_URL", raising=False)
    code = main(["ask", "What is the capital of France?", "--budget", "search=2,browse=1,tokens=8000,seconds=240",
                 "--index", str(default_index_path), "--json", "--max-step-tokens", "200"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["stop_reason"] in ("answered", "budget_exhausted", "stalled")
    assert out["usage"]["requests"] >= 1 and out["usage"]["input_tokens"] > 0
    assert out["usage"]["input_tokens"] + out["usage"]["output_tokens"] <= 8000
    assert out["model"] == "qwen2.5-coder-0.5b-instruct"


def test_ask_attaches_to_a_running_server(embedded_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "Say hello.", "--no-tools", "--base-url", embedded_server, "--tool-protocol", "text",
                 "--budget", "tokens=2000", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["stop_reason"] in ("answered", "budget_exhausted", "stalled")
    assert out["usage"]["requests"] >= 1
