"""RayExecutor on a two-node loopback cluster: the same results as the plain runner, and every sample
logged exactly once through a killed worker node, a killed driver, a worker that never becomes ready
and an endpoint that dies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from tests.ray.conftest import ROOT
from tests.ray.scenario import run
from thrifty.evals.log import SampleLog, read_log
from thrifty.evals.ray_executor import RayExecutor
from thrifty.evals.runner import Progress

pytestmark = pytest.mark.ray

BOTH = [{"head": 0.01}, {"node2": 0.01}]


def _lines(log: Path) -> list[SampleLog]:
    samples = list(read_log(log))
    assert all(n == 1 for n in Counter(s.key for s in samples).values()), "a sample was logged twice"
    return samples


def _outcome(s: SampleLog) -> tuple[Any, ...]:
    return (s.task_id, s.answer, s.correct, s.status, s.usage["requests"], s.usage["output_tokens"])


async def test_two_nodes_give_the_plain_runners_results(cluster: Any, tmp_path: Path) -> None:
    async with asyncio.timeout(180):
        plain = await run(tmp_path / "plain.jsonl", 24, None)
        spread = await run(tmp_path / "ray.jsonl", 24, RayExecutor(address=None, resources=BOTH))
    assert (spread.done, spread.correct, spread.errors) == (plain.done, plain.correct, plain.errors) == (24, 8, 0)
    assert sorted(map(_outcome, _lines(tmp_path / "ray.jsonl"))) == sorted(
        map(_outcome, _lines(tmp_path / "plain.jsonl"))
    )
    assert spread.lost.attempts == spread.lost.workers == 0
    traces = sorted(p.name for p in (tmp_path / "ray.traces").rglob("*.jsonl"))
    assert traces == sorted(f"t{i}.jsonl" for i in range(24))  # the workers' traces came back to the driver
    for sample in _lines(tmp_path / "ray.jsonl"):
        assert '"type": "RunFinished"' in (tmp_path / str(sample.trace)).read_text()

    # A folder every node shares (here: one machine): the workers write the traces there themselves.
    shared = RayExecutor(address=None, resources=BOTH, trace_root=str(tmp_path))
    async with asyncio.timeout(120):
        await run(tmp_path / "shared.jsonl", 4, shared)
    assert sorted(p.name for p in (tmp_path / "shared.traces").rglob("*.jsonl")) == [f"t{i}.jsonl" for i in range(4)]


async def test_a_killed_worker_node_loses_no_sample(cluster: Any, tmp_path: Path) -> None:
    node3 = cluster.add_node(num_cpus=1, resources={"node3": 1})
    cluster.wait_for_nodes()
    killed: list[int] = []

    def kill_node3(sample: SampleLog, progress: Progress) -> None:
        if progress.done == 6 and not killed:
            killed.append(progress.done)
            cluster.remove_node(node3, allow_graceful=False)

    executor = RayExecutor(address=None, resources=[{"head": 0.01}, {"node3": 0.01}], ready_timeout=30)
    async with asyncio.timeout(200):
        progress = await run(tmp_path / "log.jsonl", 40, executor, latency=0.3, on_sample=kill_node3)
    samples = _lines(tmp_path / "log.jsonl")
    assert killed and len(samples) == progress.done == 40 and all(s.status == "done" for s in samples)
    assert progress.lost.workers >= 1 and progress.lost.attempts >= 1  # node3's samples in flight ran again


async def test_a_killed_driver_resumes_and_logs_each_sample_once(cluster: Any, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    driver = [sys.executable, "-m", "tests.ray.scenario", cluster.address, str(log), "30", "8"]
    killed = await asyncio.to_thread(subprocess.run, driver, cwd=ROOT, capture_output=True, text=True, timeout=200)
    assert killed.returncode == -9, killed.stderr[-2000:]
    first = _lines(log)
    assert 8 <= len(first) < 30
    async with asyncio.timeout(180):
        resumed = await run(log, 30, RayExecutor(address=None, resources=BOTH))
        again = await run(log, 30, RayExecutor(address=None, resources=BOTH))
    assert (resumed.skipped, resumed.done) == (len(first), 30 - len(first))
    assert {s.task_id for s in _lines(log)} == {f"t{i}" for i in range(30)}
    assert (again.skipped, again.done) == (30, 0)


async def test_a_worker_that_never_becomes_ready_is_dropped(cluster: Any, tmp_path: Path) -> None:
    # The healthy worker is still busy when the other's ready timeout runs out (20 samples x 2 s / 2);
    # the timeout leaves a loaded 2-core machine time to start the healthy one (6 s did not in CI).
    nowhere = RayExecutor(
        address=None, resources=[{"no-such-node": 1}, {"node2": 0.01}], per_endpoint=2, ready_timeout=15, replacements=0
    )
    async with asyncio.timeout(180):
        progress = await run(tmp_path / "log.jsonl", 20, nowhere, latency=2.0)
    assert (progress.done, progress.lost.workers, progress.lost.attempts) == (20, 1, 0)
    assert len(_lines(tmp_path / "log.jsonl")) == 20

    stranded = RayExecutor(address=None, resources=[{"no-such-node": 1}], ready_timeout=2, replacements=0)
    with pytest.raises(RuntimeError, match="every Ray worker was lost; 5 sample"):
        await run(tmp_path / "none.jsonl", 5, stranded, backends=1)
    assert _lines(tmp_path / "none.jsonl") == []


STUB = ROOT / "benchmarks" / "stub_server.py"


def _stub(port: int = 0) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(STUB), "--steps", "0", "--latency", "0.3", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


async def _eval_24(urls: list[str], log: Path, on_sample: Any = None) -> Progress:
    """24 samples over these endpoints through a RayExecutor on the test cluster."""
    from tests.ray.scenario import CONDITIONS, tasks
    from thrifty.backends import OpenAICompatBackend
    from thrifty.backends.profiles import ModelProfile
    from thrifty.evals.runner import run_eval

    backends = [
        OpenAICompatBackend(url, "stub", profile=ModelProfile(family="stub", tool_protocol="native")) for url in urls
    ]
    try:
        return await run_eval(
            tasks(24),
            CONDITIONS,
            backends=backends,
            tools=[],
            log_path=log,
            concurrency=8,
            retries=0,
            executor=RayExecutor(address=None, resources=BOTH),
            on_sample=on_sample,
        )
    finally:
        for b in backends:
            await b.aclose()


async def test_an_endpoint_that_dies_errors_its_samples_once_and_a_resume_reruns_them(
    cluster: Any, tmp_path: Path
) -> None:
    stubs = [_stub(), _stub()]
    log = tmp_path / "log.jsonl"

    def eval_once(on_sample: Any = None) -> Awaitable[Progress]:
        return _eval_24([url for _, url in stubs], log, on_sample)

    def kill_second(sample: SampleLog, progress: Progress) -> None:
        if progress.done == 6 and stubs[1][0].poll() is None:
            _stop(stubs[1][0])

    try:
        async with asyncio.timeout(200):
            first = await eval_once(kill_second)
            failed = [s for s in read_log(log) if s.status == "error"]
            assert first.errors == len(failed) >= 1 and first.done + first.errors == 24
            assert {s.endpoint for s in failed} == {stubs[1][1]}  # only the dead endpoint's samples
            port = int(stubs[1][1].rsplit(":", 1)[1].split("/")[0])
            stubs[1] = _stub(port)  # the endpoint is back: a rerun runs just the failed samples
            second = await eval_once()
    finally:
        for proc, _ in stubs:
            if proc.poll() is None:
                _stop(proc)
    assert (second.skipped, second.done, second.errors) == (24 - len(failed), len(failed), 0)
    done = [s for s in _lines_any(log) if s.status == "done"]
    assert sorted(s.task_id for s in done) == sorted(f"t{i}" for i in range(24))  # each done exactly once


def _lines_any(log: Path) -> list[SampleLog]:
    return list(read_log(log))


def test_thrifty_eval_ray_runs_the_cli_eval_on_the_cluster(
    cluster: Any, tmp_path: Path, default_index_path: Path
) -> None:
    from importlib import resources
    from itertools import islice

    from thrifty.cli import main
    from thrifty.evals.tasks import read_tasks, write_tasks

    with resources.as_file(resources.files("thrifty.evals").joinpath("data/sample_tasks.jsonl")) as path:
        tasks = list(islice(read_tasks(path), 6))
    write_tasks(tasks, tmp_path / "tasks.jsonl")
    log = tmp_path / "log.jsonl"
    stubs = [_stub(), _stub()]
    args = ["eval", str(tmp_path / "tasks.jsonl"), "--strategies", "react", "--budgets", "2", "--log", str(log)]
    args += ["--tool-protocol", "native", "--index", str(default_index_path), "--ray", cluster.address]
    try:
        for _, url in stubs:
            args += ["--endpoint", url]
        assert main(args) == 0
    finally:
        for proc, _ in stubs:
            _stop(proc)
    samples = _lines(log)
    assert sorted(s.task_id for s in samples) == sorted(t.id for t in tasks)
    assert {s.endpoint for s in samples} <= {url for _, url in stubs} and all(s.status == "done" for s in samples)
