"""The batch runner: bounded concurrency, a fresh ledger per sample, retries of transient failures,
and a resumable append-only log.

Several model endpoints can share the load: pass one backend per endpoint and samples are
dispatched to the least busy one (client-side balancing for users whose load outgrows one server).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import Strategy
from thrifty.backends.base import Backend
from thrifty.budget import Limits, PriceTable
from thrifty.evals.log import SampleLog, append, done_keys, open_log
from thrifty.evals.scorers import alias_match, gaia_scorer
from thrifty.evals.tasks import Task
from thrifty.tools.base import Tool


@dataclass
class Progress:
    total: int
    done: int = 0
    correct: int = 0
    skipped: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def accuracy(self) -> float:
        return self.correct / self.done if self.done else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.done:
            return None
        rate = (time.monotonic() - self.started) / self.done
        return rate * (self.total - self.done - self.skipped)


@dataclass(frozen=True)
class Condition:
    strategy: str | Strategy
    """A registered name (``"bats"``, ``"epf:4"``) or a configured instance, logged by its name."""
    budget_label: str
    limits: Limits

    @property
    def name(self) -> str:
        return self.strategy if isinstance(self.strategy, str) else self.strategy.name


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


async def run_eval(
    tasks: Sequence[Task],
    conditions: Sequence[Condition],
    *,
    backends: Sequence[Backend],
    tools: Sequence[Tool],
    log_path: Path,
    concurrency: int = 4,
    retries: int = 1,
    config: LoopConfig | None = None,
    prices: PriceTable | None = None,
    on_sample: Callable[[SampleLog, Progress], None] | None = None,
) -> Progress:
    """Run every (task, condition) not already in the log; return the progress counters."""
    finished = done_keys(log_path)
    todo = [(t, c) for c in conditions for t in tasks if (t.id, c.name, c.budget_label) not in finished]
    progress = Progress(total=len(tasks) * len(conditions), skipped=len(tasks) * len(conditions) - len(todo))
    balancer = _Balancer(backends)
    semaphore = asyncio.Semaphore(concurrency)
    log = open_log(log_path)
    write_lock = asyncio.Lock()

    async def one(task: Task, cond: Condition) -> None:
        async with semaphore:
            index = balancer.acquire()
            backend = balancer.backends[index]
            try:
                agent = Agent(backend, tools=tools, strategy=cond.strategy, limits=cond.limits, config=config,
                              prices=prices)  # fmt: skip
                result, attempts = await _with_retries(agent, task.question, retries)
            finally:
                balancer.release(index)
        sample = replace(_sample(task, cond, result, attempts), endpoint=getattr(backend, "base_url", None))
        async with write_lock:  # whole lines, one writer; the fsync runs off the event loop
            await asyncio.to_thread(append, log, sample)
        progress.done += 1
        progress.correct += sample.correct
        progress.cost_usd += sample.cost_usd
        progress.tokens += result.usage.total_tokens
        if on_sample is not None:
            on_sample(sample, progress)

    try:
        await asyncio.gather(*(one(t, c) for t, c in todo))
    finally:
        log.close()
    return progress


async def _with_retries(agent: Agent, question: str, retries: int) -> tuple[RunResult, int]:
    for attempt in range(1, retries + 2):
        result = await agent.run(question)
        if result.stop_reason != "error" or attempt > retries:
            return result, attempt
        await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def score(task: Task, answer: str | None) -> bool:
    """GAIA tasks use the official GAIA rules; everything else matches the answer or an alias."""
    if task.meta.get("scorer") == "gaia":
        return gaia_scorer(answer, task.answer)
    return alias_match(answer, (task.answer, *task.aliases))


def _sample(task: Task, cond: Condition, result: RunResult, attempts: int) -> SampleLog:
    return SampleLog(
        task_id=task.id, strategy=cond.name, budget=cond.budget_label, question=task.question,
        target=task.answer, answer=result.answer, correct=score(task, result.answer),
        stop_reason=result.stop_reason, exhausted=result.exhausted, usage=result.usage.to_dict(),
        cost_usd=result.cost_usd, seconds=result.seconds, error=result.error, attempts=attempts,
        candidates=list(result.candidates),
    )  # fmt: skip
