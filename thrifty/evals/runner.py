"""The batch runner: bounded concurrency, a fresh ledger per sample, retries of transient failures,
and a resumable append-only log.

Several model endpoints can share the load: pass one backend per endpoint and samples are
dispatched to the least busy one (client-side balancing for users whose load outgrows one server).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from thrifty.agents.agent import Agent
from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import ignore_events
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import Strategy
from thrifty.backends.base import Backend
from thrifty.budget import Ledger, Limits, PriceTable, Usage
from thrifty.evals.attachments import with_attachments
from thrifty.evals.grader import grade
from thrifty.evals.identity import limits_dict, run_header
from thrifty.evals.log import SampleLog, append, done_keys, load_log, open_log
from thrifty.evals.scorers import alias_match, gaia_scorer
from thrifty.evals.tasks import Task
from thrifty.tools.base import Tool
from thrifty.traces import TraceWriter

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    total: int
    done: int = 0
    correct: int = 0
    skipped: int = 0
    errors: int = 0
    """Samples that could not be run this time (logged as errors; a resume retries them)."""
    runs: tuple[str, ...] = ()
    """The run ids (header hashes) of this eval's conditions: what its report covers."""
    cost_usd: float = 0.0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    def record(self, sample: SampleLog) -> None:
        if sample.status == "error":
            self.errors += 1
            return
        self.done += 1
        self.correct += sample.correct
        self.cost_usd += sample.cost_usd
        self.tokens += sample.usage.get("input_tokens", 0) + sample.usage.get("output_tokens", 0)

    @property
    def accuracy(self) -> float:
        return self.correct / self.done if self.done else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.done + self.errors:
            return None
        rate = (time.monotonic() - self.started) / (self.done + self.errors)
        return rate * (self.total - self.done - self.errors - self.skipped)


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
    tasks_sha256: str | None = None,
    grader: Backend | None = None,
    traces: bool = True,
) -> Progress:
    """Run every (task, condition) not already finished in the log; return the progress counters.

    One sample's failure (a crash, a backend error after retries) is logged as ``status="error"``
    with its text and the eval goes on: it never cancels the samples in flight, and a resume runs
    it again. ``tasks_sha256`` identifies the task file (:func:`~thrifty.evals.identity.hash_file`;
    the CLI always passes it); without one, a run is identified by its settings alone, so a larger
    slice of the same tasks resumes where a smaller one stopped. With a ``grader`` backend,
    BrowseComp tasks are judged by the BrowseComp grader prompt (correct yes/no and the response's
    confidence, for calibration error in the report) instead of by answer matching. ``traces``:
    write each sample's JSONL trace beside the log (its row names it); off saves the serialisation.
    """
    config = config or LoopConfig()
    headers = [run_header(c, backends, config, tasks_sha256 or "", grader) for c in conditions]
    log = open_log(log_path)  # locks the log: a second writer fails here, before running anything
    try:
        finished = done_keys(log_path)
        todo = [
            (t, c, h.run)
            for c, h in zip(conditions, headers, strict=True)
            for t in tasks
            if (h.run, t.id, c.name, c.budget_label) not in finished
        ]
        total = len(tasks) * len(conditions)
        progress = Progress(total=total, skipped=total - len(todo), runs=tuple(h.run for h in headers))
        known = load_log(log_path).headers
        for header in {h.run: h for h in headers if h.run not in known}.values():
            append(log, header)
        sampler = _Sampler(backends, tools, config, prices, retries, log_path, log)
        sampler.grader = grader
        sampler.traces = traces
        semaphore = asyncio.Semaphore(concurrency)

        async def one(task: Task, cond: Condition, run: str) -> None:
            async with semaphore:
                sample = await sampler.run(task, cond, run)
            if sample is None:
                progress.errors += 1
                return
            progress.record(sample)
            if on_sample is not None:
                on_sample(sample, progress)

        await asyncio.gather(*(one(*item) for item in todo))
    finally:
        log.close()
    return progress


class _Sampler:
    """Runs one sample end to end: agent, retries, scoring, trace, log line; never raises."""

    def __init__(
        self,
        backends: Sequence[Backend],
        tools: Sequence[Tool],
        config: LoopConfig,
        prices: PriceTable | None,
        retries: int,
        log_path: Path,
        log: TextIO,
    ) -> None:
        self.balancer = _Balancer(backends)
        self.tools, self.config, self.prices, self.retries = tools, config, prices, retries
        self.log_dir, self.log = log_path.parent, log
        self.trace_dir = log_path.parent / f"{log_path.stem}.traces"
        self.write_lock = asyncio.Lock()
        self.grader: Backend | None = None
        self.traces = True

    async def run(self, task: Task, cond: Condition, run: str) -> SampleLog | None:
        index = self.balancer.acquire()
        backend = self.balancer.backends[index]
        trace = self.trace_dir / run / f"{_safe(task.id)}.jsonl"
        try:
            with with_attachments(task, self.tools) as prepared:
                agent = Agent(
                    backend,
                    tools=prepared.tools,
                    strategy=cond.strategy,
                    limits=cond.limits,
                    config=self.config,
                    prices=self.prices,
                )
                result, attempts = await _with_retries(
                    agent, prepared.question, self.retries, trace if self.traces else None
                )
            sample = _sample(task, cond, result, attempts)
            if self.grader is not None and task.type == "browsecomp" and sample.status == "done":
                sample = await _graded(self.grader, task, sample)
        except Exception as exc:  # one sample's crash is its own result, never the eval's
            sample = _errored(task, cond, exc)
        finally:
            self.balancer.release(index)
        sample = replace(
            sample,
            run=run,
            endpoint=getattr(backend, "base_url", None),
            trace=str(trace.relative_to(self.log_dir)) if self.traces else None,
        )
        try:
            async with self.write_lock:  # whole lines, one writer; the fsync runs off the event loop
                await asyncio.to_thread(append, self.log, sample)
        except Exception:
            logger.exception("could not log sample %s of run %s", task.id, run)
            return None
        return sample


async def _with_retries(agent: Agent, question: str, retries: int, trace: Path | None) -> tuple[RunResult, int]:
    for attempt in range(1, retries + 2):
        writer = None if trace is None else TraceWriter(trace)  # every attempt appends to the one trace
        try:
            result = await agent.run(question, on_event=writer)
        finally:
            if writer is not None:
                writer.close()
        if result.stop_reason != "error" or attempt > retries:
            return result, attempt
        await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


async def _graded(grader: Backend, task: Task, sample: SampleLog) -> SampleLog:
    """The BrowseComp grader's verdict and the response's confidence (its calls are not charged to
    the sample: grading is the evaluator's cost, not the agent's)."""
    caller = ModelCaller(grader, Ledger(Limits(), prices=PriceTable(catalogue=False)), ignore_events)
    verdict = await grade(caller, task.question, sample.answer or "", task.answer)
    return replace(sample, correct=verdict.correct, correct_any=None, confidence=verdict.confidence)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)[:120] or "task"


def score(task: Task, answer: str | None) -> bool:
    """GAIA tasks use the official GAIA rules; everything else matches the answer or an alias."""
    if task.meta.get("scorer") == "gaia":
        return gaia_scorer(answer, task.answer)
    return alias_match(answer, (task.answer, *task.aliases))


def _sample(task: Task, cond: Condition, result: RunResult, attempts: int) -> SampleLog:
    if result.stop_reason == "error":
        return _errored(task, cond, result.error or "error", result=result, attempts=attempts)
    correct = score(task, result.answer)
    correct_any = correct or any(score(task, c) for c in result.candidates)
    if result.pass_at_n:  # the strategy's own metric is pass@N: any candidate correct is a success
        correct = correct_any
    return SampleLog(
        task_id=task.id,
        strategy=cond.name,
        budget=cond.budget_label,
        question=task.question,
        target=task.answer,
        answer=result.answer,
        correct=correct,
        correct_any=correct_any,
        stop_reason=result.stop_reason,
        exhausted=result.exhausted,
        usage=result.usage.to_dict(),
        cost_usd=result.cost_usd,
        seconds=result.seconds,
        error=result.error,
        attempts=attempts,
        candidates=list(result.candidates),
        limits=limits_dict(cond.limits),
        overrun=result.overrun,
    )


def _errored(
    task: Task, cond: Condition, error: BaseException | str, *, result: RunResult | None = None, attempts: int = 1
) -> SampleLog:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    usage = result.usage if result is not None else Usage()
    return SampleLog(
        task_id=task.id,
        strategy=cond.name,
        budget=cond.budget_label,
        question=task.question,
        target=task.answer,
        answer=None,
        correct=False,
        stop_reason="error",
        exhausted=None,
        usage=usage.to_dict(),
        cost_usd=usage.cost_usd,
        seconds=result.seconds if result else 0.0,
        error=text[:2000],
        attempts=attempts,
        status="error",
        limits=limits_dict(cond.limits),
    )
