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
    args = [
        "eval",
        str(tasks),
        "--ray",
        "auto",
        "--log",
        str(log),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
    ]
    code = main(args)
    assert code != 0
    assert "thrifty[ray]" in capsys.readouterr().err
    assert not log.exists()


class _FakeAffinity:
    def __init__(self, node_id: str, soft: bool) -> None:
        self.node_id, self.soft = node_id, soft


def test_a_worker_is_placed_near_its_endpoint_unless_resources_say_otherwise() -> None:
    from types import SimpleNamespace

    from thrifty.evals.ray_executor import RayExecutor

    fake = SimpleNamespace(
        nodes=lambda: [
            {"NodeID": "dead", "Alive": False, "NodeManagerAddress": "127.0.0.1"},
            {"NodeID": "gpu1", "Alive": True, "NodeManagerAddress": "127.0.0.1"},
        ],
        util=SimpleNamespace(scheduling_strategies=SimpleNamespace(NodeAffinitySchedulingStrategy=_FakeAffinity)),
    )
    executor = RayExecutor(resources=[{"node2": 0.01}])
    executor._ray = fake
    pinned = executor.options(0, "127.0.0.1", 8, fresh=True)
    assert pinned["resources"] == {"node2": 0.01} and "scheduling_strategy" not in pinned
    near = executor.options(1, "localhost", 8, fresh=True)  # no resources named: the endpoint's own node, softly
    assert (near["scheduling_strategy"].node_id, near["scheduling_strategy"].soft) == ("gpu1", True)
    assert near["max_concurrency"] == 10 and near["max_restarts"] == 0 and near["max_task_retries"] == 0
    elsewhere = executor.options(1, "203.0.113.9", 8, fresh=True)  # no node there: Ray's default placement
    replacement = executor.options(0, "127.0.0.1", 8, fresh=False)  # a replacement goes wherever Ray puts it
    assert not {"resources", "scheduling_strategy"} & (set(elsewhere) | set(replacement))
