"""The eval log commits finished samples in groups, and a sample once acknowledged survives kill -9.

Acknowledged means: ``LogWriter.write`` returned, so the runner counted the sample (progress,
``on_sample``, the CLI's bar). Its line and every line before it are fsynced by then.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from thrifty.backends import ScriptedBackend
from thrifty.budget import Limits
from thrifty.evals.log import LogWriter, SampleLog, load_log, open_log
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task

CHILD = """
import asyncio, random, sys
from pathlib import Path
from thrifty.backends import ScriptedBackend
from thrifty.budget import Limits
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task

async def respond(request):
    await asyncio.sleep(random.random() * 0.02)
    return "<answer>Lima</answer>"

tasks = [Task(id=f"t{i}", question=f"q{i}?", answer="Lima", aliases=(), type="x", difficulty="x",
              evidence_urls=(), oracle_budget={}, meta={}) for i in range(3000)]
def acknowledged(sample, progress):
    print(sample.task_id, flush=True)
asyncio.run(run_eval(tasks, [Condition("react", "1", Limits(requests=3))],
                     backends=[ScriptedBackend([respond] * 3000)], tools=[], log_path=Path(sys.argv[1]),
                     concurrency=64, traces=False, on_sample=acknowledged))
"""


def _tasks(n: int) -> list[Task]:
    return [
        Task(
            id=f"t{i}",
            question=f"q{i}?",
            answer="Lima",
            aliases=(),
            type="x",
            difficulty="x",
            evidence_urls=(),
            oracle_budget={},
            meta={},
        )
        for i in range(n)
    ]


def test_kill_9_mid_run_loses_no_acknowledged_sample(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with subprocess.Popen([sys.executable, "-c", CHILD, str(log)], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        acknowledged = [child.stdout.readline().strip() for _ in range(200)]
        os.kill(child.pid, signal.SIGKILL)  # mid-run: samples are in flight and lines are being committed
        acknowledged += [line.strip() for line in child.stdout]  # acknowledged before the kill landed
    logged = load_log(log)
    done = {s.task_id for s in logged.samples if s.status == "done"}
    assert logged.skipped == 0 and len(logged.headers) == 1
    assert set(acknowledged) <= done, set(acknowledged) - done
    assert len(done) < 3000  # it really was killed mid-run
    open_log(log).close()  # a torn last line, if any, is cut off before the next run appends


async def test_samples_finishing_together_share_one_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def respond(request: object) -> str:
        await asyncio.sleep(0.05)  # all 64 finish at about the same moment
        return "<answer>Lima</answer>"

    log = tmp_path / "log.jsonl"
    writers: list[LogWriter] = []
    real_init = LogWriter.__init__

    def spy(self: LogWriter, file: object) -> None:
        real_init(self, file)  # type: ignore[arg-type]
        writers.append(self)

    monkeypatch.setattr(LogWriter, "__init__", spy)
    progress = await run_eval(
        _tasks(64),
        [Condition("react", "1", Limits(requests=3))],
        backends=[ScriptedBackend([respond] * 64)],
        tools=[],
        log_path=log,
        concurrency=64,
        traces=False,
    )
    assert progress.done == 64 and len(load_log(log).samples) == 64
    assert writers[0].commits < 16  # one fsync per sample made 64


async def test_a_failed_commit_reaches_every_waiting_writer(tmp_path: Path) -> None:
    file = open_log(tmp_path / "log.jsonl")
    writer = LogWriter(file)
    file.close()  # the next commit fails: writing to a closed file
    sample = SampleLog("t", "react", "1", "q", "a", None, False, "error", None, {}, 0.0, 0.0)
    results = await asyncio.gather(writer.write(sample), writer.write(sample), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
