"""Several model endpoints sharing one eval: two real server processes behind `thrifty eval --endpoint A --endpoint B`."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from itertools import islice
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.evals.log import read_log
from thrifty.evals.tasks import read_tasks, write_tasks

pytestmark = pytest.mark.live_model

STUB = Path(__file__).parents[2] / "benchmarks" / "stub_server.py"


@pytest.fixture
def two_stubs() -> Iterator[list[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(STUB), "--steps", "1", "--latency", "0.3"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        yield [p.stdout.readline().strip() for p in procs if p.stdout is not None]
    finally:
        for p in procs:
            p.terminate()
            p.wait()
            if p.stdout is not None:
                p.stdout.close()


def test_eval_spreads_samples_over_endpoints_each_sample_once(
    two_stubs: list[str], tmp_path: Path, default_index_path: Path
) -> None:
    sample = resources.files("thrifty.evals").joinpath("data/sample_tasks.jsonl")
    with resources.as_file(sample) as path:
        tasks = list(islice(read_tasks(path), 8))
    task_file = tmp_path / "tasks.jsonl"
    write_tasks(tasks, task_file)
    log = tmp_path / "log.jsonl"
    args = [
        "eval",
        str(task_file),
        "--strategies",
        "react",
        "--budgets",
        "2",
        "--log",
        str(log),
        "--concurrency",
        "4",
        "--tool-protocol",
        "native",
        "--index",
        str(default_index_path),
    ]
    for url in two_stubs:
        args += ["--endpoint", url]
    assert main(args) == 0
    samples = list(read_log(log))
    assert sorted(s.task_id for s in samples) == sorted(t.id for t in tasks)  # every sample exactly once
    served = Counter(s.endpoint for s in samples)
    assert set(served) == set(two_stubs) and min(served.values()) >= 2  # both servers did real work
    assert all(s.stop_reason == "answered" and s.usage["requests"] == 2 for s in samples)


async def test_run_eval_over_two_real_llama_servers(embedded_server: str, tmp_path: Path) -> None:
    """Two real model servers (the session's embedded one and a second llama-server process) share an eval."""
    from thrifty.backends import OpenAICompatBackend
    from thrifty.backends.embedded import DEFAULT_MODEL, llama_server
    from thrifty.backends.profiles import EMBEDDED_PROFILE
    from thrifty.budget import Limits
    from thrifty.evals.runner import Condition, run_eval
    from thrifty.evals.tasks import Task

    second = llama_server(context=4096, parallel=1, threads=1)
    async with second:
        urls = [embedded_server, second.base_url]
        backends = [OpenAICompatBackend(u, DEFAULT_MODEL.name, profile=EMBEDDED_PROFILE) for u in urls]
        tasks = [
            Task(f"t{i}", f"What is {i} + {i}? Answer with the number.", str(2 * i), (), "arith", "easy", (), {})
            for i in range(4)
        ]
        # One short answer each (no tools): the point is dispatch over real servers, not accuracy.
        limits = Limits(requests=2, output_tokens=64)
        await run_eval(
            tasks,
            [Condition("react", "-", limits)],
            backends=backends,
            tools=[],
            log_path=tmp_path / "log.jsonl",
            concurrency=2,
        )
        for b in backends:
            await b.aclose()
    samples = list(read_log(tmp_path / "log.jsonl"))
    assert sorted(s.task_id for s in samples) == ["t0", "t1", "t2", "t3"]
    assert {s.endpoint for s in samples} == {u.rstrip("/") for u in urls}
    assert all(s.usage["requests"] >= 1 and s.usage["output_tokens"] <= 64 for s in samples)
