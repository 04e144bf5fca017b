"""Executors: the plain runner is the local executor; without Ray installed, ``--ray`` says what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.errors import ConfigError
from thrifty.evals.ray_executor import load_ray


def test_without_ray_the_executor_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if thrifty[ray] were not installed
    with pytest.raises(ConfigError, match=r"--ray.*pip install 'thrifty\[ray\]'"):
        load_ray()


def test_thrifty_eval_ray_without_ray_fails_before_any_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "t1", "question": "q?", "answer": "a"}\n')
    log = tmp_path / "log.jsonl"
    args = ["eval", str(tasks), "--ray", "auto", "--log", str(log), "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    code = main(args)
    assert code != 0
    assert "thrifty[ray]" in capsys.readouterr().err
    assert not log.exists()
