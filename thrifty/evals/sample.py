"""One sample end to end, wherever it runs: a fresh agent (so a fresh ledger), retries of transient
failures, scoring, the optional grader, the trace. Both executors (the local one and Ray's workers)
call :meth:`SampleWork.run`, so a sample is the same whichever runs it; only the driver logs it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from thrifty.agents.agent import Agent
from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import ignore_events
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import Strategy
from thrifty.backends.base import Backend
from thrifty.backends.session import session
from thrifty.budget import Deadline, Ledger, Limits, MonotonicClock, PriceTable, Usage
from thrifty.evals.attachments import with_attachments
from thrifty.evals.grader import grade
from thrifty.evals.identity import limits_dict
from thrifty.evals.log import SampleLog
from thrifty.evals.scorers import alias_match, gaia_scorer
from thrifty.evals.tasks import Task
from thrifty.tools.base import Tool
from thrifty.traces import TraceWriter


@dataclass(frozen=True)
class Condition:
    strategy: str | Strategy
    """A registered name (``"bats"``, ``"epf:4"``) or a configured instance, logged by its name."""
    budget_label: str
    limits: Limits

    @property
    def name(self) -> str:
        return self.strategy if isinstance(self.strategy, str) else self.strategy.name


@dataclass(frozen=True)
class Job:
    """One (task, condition) of one run, as the driver hands it to an executor (small and picklable)."""

    task: Task
    condition: Condition
    run: str
    """The run header's hash: with the task and condition, the sample's resume key."""
    trace: str | None
    """Where the sample's trace goes, relative to the log's folder (None: no trace)."""

    @property
    def session(self) -> str:
        """The sample's session id: every model request of the sample carries it (sticky routing)."""
        return f"{self.run}/{self.task.id}/{self.condition.name}/{self.condition.budget_label}"


@dataclass(frozen=True)
class SampleWork:
    """What every sample needs besides its backend; built once per process that runs samples."""

    tools: Sequence[Tool]
    config: LoopConfig
    prices: PriceTable | None = None
    retries: int = 1
    grader: Backend | None = None

    async def run(
        self, backend: Backend, job: Job, trace_root: Path | None, live: dict[str, Ledger] | None = None
    ) -> SampleLog:
        """The sample's log line (never raises: a crash is the sample's own ``error`` result).

        ``trace_root``: the folder ``job.trace`` is relative to. ``live``: the ledger of the attempt in
        progress is kept there under the job's session id (so a watcher can see what it has spent).
        """
        task, cond = job.task, job.condition
        trace = None if job.trace is None or trace_root is None else trace_root / job.trace
        try:
            with session(job.session), with_attachments(task, self.tools) as prepared:
                agent = Agent(
                    backend,
                    tools=prepared.tools,
                    strategy=cond.strategy,
                    limits=cond.limits,
                    config=self.config,
                    prices=self.prices,
                )
                attempt = _Attempts(agent, self.retries, trace, live, job.session)
                result, attempts = await attempt.run(prepared.question)
            sample = _sample(task, cond, result, attempts)
            if self.grader is not None and task.type == "browsecomp" and sample.status == "done":
                sample = await _graded(self.grader, task, sample)
        except Exception as exc:  # one sample's crash is its own result, never the eval's
            sample = errored(task, cond, exc)
        finally:
            if live is not None:
                live.pop(job.session, None)
        return replace(sample, run=job.run, endpoint=getattr(backend, "base_url", None), trace=job.trace)


@dataclass
class _Attempts:
    """Runs the agent until it does not error or the retries are spent, each attempt on a fresh ledger."""

    agent: Agent
    retries: int
    trace: Path | None
    live: dict[str, Ledger] | None
    key: str

    async def run(self, question: str) -> tuple[RunResult, int]:
        """The sample's ``seconds`` limit bounds all attempts together: a retry gets only the time
        left, and a back-off that could not finish before the deadline is not started."""
        clock, seconds = MonotonicClock(), self.agent.limits.seconds
        deadline = Deadline(None if seconds is None else clock.now() + seconds, clock)
        for attempt in range(1, self.retries + 2):
            writer = None if self.trace is None else TraceWriter(self.trace)  # every attempt appends to one trace
            left = deadline.remaining()
            retry_limits = None if left is None or attempt == 1 else replace(self.agent.limits, seconds=left)
            ledger = self.agent.new_ledger(retry_limits)
            if self.live is not None:
                self.live[self.key] = ledger
            try:
                result = await self.agent.run(question, ledger=ledger, on_event=writer)
            finally:
                if writer is not None:
                    writer.close()
            if result.stop_reason != "error" or attempt > self.retries:
                return result, attempt
            try:
                await deadline.sleep(min(8.0, 0.5 * 2**attempt))
            except TimeoutError:
                return result, attempt
        raise AssertionError("unreachable")


async def _graded(grader: Backend, task: Task, sample: SampleLog) -> SampleLog:
    """The BrowseComp grader's verdict and the response's confidence (its calls are not charged to
    the sample: grading is the evaluator's cost, not the agent's)."""
    caller = ModelCaller(grader, Ledger(Limits(), prices=PriceTable(catalogue=False)), ignore_events)
    verdict = await grade(caller, task.question, sample.answer or "", task.answer)
    return replace(sample, correct=verdict.correct, correct_any=None, confidence=verdict.confidence)


def safe_name(name: str) -> str:
    """A task id as a file name."""
    return re.sub(r"[^\w.-]", "_", name)[:120] or "task"


def score(task: Task, answer: str | None) -> bool:
    """GAIA tasks use the official GAIA rules; everything else matches the answer or an alias."""
    if task.meta.get("scorer") == "gaia":
        return gaia_scorer(answer, task.answer)
    return alias_match(answer, (task.answer, *task.aliases))


def _sample(task: Task, cond: Condition, result: RunResult, attempts: int) -> SampleLog:
    if result.stop_reason == "error":
        return errored(task, cond, result.error or "error", result=result, attempts=attempts)
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


def errored(
    task: Task, cond: Condition, error: BaseException | str, *, result: RunResult | None = None, attempts: int = 1
) -> SampleLog:
    """The log line of a sample that could not be run (retried on resume, never scored)."""
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
