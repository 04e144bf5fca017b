"""Executors: where an eval's samples run. The driver (:func:`~thrifty.evals.runner.run_eval`) keeps the
resume rule, the one log writer and progress; an executor only runs the jobs it is given and yields each
finished sample once, in any order.

:class:`LocalExecutor` runs them on this event loop, spread over the backends (least busy first).
``thrifty.evals.ray_executor.RayExecutor`` runs them on a Ray cluster (``thrifty[ray]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from thrifty.backends.base import Backend
from thrifty.evals.log import SampleLog
from thrifty.evals.sample import Job, SampleWork


@dataclass
class Losses:
    """Attempts that ran but produced no log line (their worker died mid-sample), and what they had
    spent as last seen: a lower bound, since spending after the last report is lost with the worker."""

    attempts: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    workers: int = 0
    """Workers lost (dead, or never ready in time)."""

    def add(self, tokens: int, cost_usd: float) -> None:
        self.attempts += 1
        self.tokens += tokens
        self.cost_usd += cost_usd


@dataclass
class EvalContext:
    """What the driver gives an executor besides the jobs."""

    work: SampleWork
    backends: Sequence[Backend]
    log_dir: Path
    concurrency: int
    losses: Losses = field(default_factory=Losses)


@dataclass(frozen=True)
class Finished:
    """A finished job. ``trace_text``: the trace, when it was written where the driver cannot read it
    (a worker's disk) and came back with the sample; the driver then writes it at ``job.trace``."""

    job: Job
    sample: SampleLog
    trace_text: str | None = None


class Executor(Protocol):
    def run(self, jobs: Sequence[Job], ctx: EvalContext) -> AsyncIterator[Finished]:
        """Yield every job's result exactly once (an executor that cannot finish a job raises)."""
        ...


class _Balancer:
    """Least-busy choice among backends (ties go to the first)."""

    def __init__(self, backends: Sequence[Backend]) -> None:
        if not backends:
            raise ValueError("at least one backend is needed")
        self.backends = list(backends)
        self.busy = [0] * len(backends)

    def acquire(self) -> int:
        index = min(range(len(self.backends)), key=lambda i: self.busy[i])
        self.busy[index] += 1
        return index

    def release(self, index: int) -> None:
        self.busy[index] -= 1


class LocalExecutor:
    """All samples on this process's event loop, at most ``ctx.concurrency`` at once."""

    async def run(self, jobs: Sequence[Job], ctx: EvalContext) -> AsyncIterator[Finished]:
        balancer = _Balancer(ctx.backends)
        semaphore = asyncio.Semaphore(ctx.concurrency)
        done: asyncio.Queue[Finished] = asyncio.Queue()

        async def one(job: Job) -> None:
            async with semaphore:
                index = balancer.acquire()
                try:
                    sample = await ctx.work.run(balancer.backends[index], job, ctx.log_dir)
                finally:
                    balancer.release(index)
            done.put_nowait(Finished(job, sample))

        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            for _ in jobs:
                yield await done.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
