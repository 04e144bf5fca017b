"""The eval the Ray tests run: tasks, a scripted model with latency, and a driver entry point
(``python -m tests.ray.scenario ADDRESS LOG N KILL_AFTER``) that a test SIGKILLs mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from thrifty.backends import ScriptedBackend
from thrifty.budget import Limits
from thrifty.evals.log import SampleLog
from thrifty.evals.ray_executor import RayExecutor
from thrifty.evals.runner import Condition, Progress, run_eval
from thrifty.evals.tasks import Task

CONDITIONS = [Condition("react", "1", Limits(requests=3))]


def tasks(n: int) -> list[Task]:
    return [
        Task(
            id=f"t{i}",
            question=f"question number {i}?",
            answer=f"a{i % 3}",
            aliases=(),
            type="x",
            difficulty="x",
            evidence_urls=(),
            oracle_budget={},
            meta={},
        )
        for i in range(n)
    ]


def model(latency: float, calls: int = 400) -> ScriptedBackend:
    """Answers ``a<question number mod 2>`` after ``latency`` s (targets are ``a<number mod 3>``): right
    or wrong by the question alone, so every executor must score the same."""

    async def respond(request: object) -> str:
        question = request.messages[-1].content  # type: ignore[attr-defined]
        number = int(question.rsplit(" ", 1)[-1].rstrip("?"))
        await asyncio.sleep(latency)
        return f"<answer>a{number % 2}</answer>"

    return ScriptedBackend([respond] * calls)


async def run(
    log: Path,
    n: int,
    executor: RayExecutor | None,
    *,
    latency: float = 0.2,
    backends: int = 2,
    on_sample: object = None,
    concurrency: int = 8,
) -> Progress:
    return await run_eval(
        tasks(n),
        CONDITIONS,
        backends=[model(latency) for _ in range(backends)],
        tools=[],
        log_path=log,
        concurrency=concurrency,
        retries=0,
        executor=executor,
        on_sample=on_sample,
    )  # type: ignore[arg-type]


def main() -> None:
    import ray

    address, log, n, kill_after = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    ray.init(address=address, log_to_driver=False)

    def die(sample: SampleLog, progress: Progress) -> None:
        if progress.done == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-run: samples in flight, never logged

    asyncio.run(run(log, n, RayExecutor(address=None, resources=[{"head": 0.01}, {"node2": 0.01}]), on_sample=die))


if __name__ == "__main__":
    main()
