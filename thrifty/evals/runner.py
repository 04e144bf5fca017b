"""The batch runner's driver: the resume rule, the one log writer, progress. Where the samples run is
an executor's business (:mod:`thrifty.evals.executors`): this process's event loop by default, a Ray
cluster with ``executor=RayExecutor(...)``.

Several model endpoints can share the load: pass one backend per endpoint and samples are
dispatched to the least busy one (client-side balancing for users whose load outgrows one server).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from thrifty.agents.controller import LoopConfig
from thrifty.backends.base import Backend
from thrifty.budget import PriceTable
from thrifty.evals.executors import EvalContext, Executor, Finished, LocalExecutor, Losses
from thrifty.evals.identity import run_header
from thrifty.evals.log import LogWriter, RunHeader, SampleLog, append, done_keys, load_log, open_log
from thrifty.evals.sample import Condition, Job, SampleWork, safe_name, score
from thrifty.evals.tasks import Task
from thrifty.tools.base import Tool

__all__ = ["Condition", "Progress", "run_eval", "score"]

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
    lost: Losses = field(default_factory=Losses)
    """Attempts lost with a dead worker (rerun elsewhere) and what they had spent: not in the log."""
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


def _pending(
    log_path: Path,
    log: TextIO,
    tasks: Sequence[Task],
    conditions: Sequence[Condition],
    headers: Sequence[RunHeader],
    *,
    traces: bool,
) -> tuple[list[Job], Progress]:
    """The samples the log has not finished, and counters that count the finished ones as skipped;
    the header of each run the log does not know yet is written first."""
    finished = done_keys(log_path)
    trace_dir = f"{log_path.stem}.traces"
    jobs = [
        Job(t, c, h.run, f"{trace_dir}/{h.run}/{safe_name(t.id)}.jsonl" if traces else None)
        for c, h in zip(conditions, headers, strict=True)
        for t in tasks
        if (h.run, t.id, c.name, c.budget_label) not in finished
    ]
    total = len(tasks) * len(conditions)
    progress = Progress(total=total, skipped=total - len(jobs), runs=tuple(h.run for h in headers))
    known = load_log(log_path).headers
    for header in {h.run: h for h in headers if h.run not in known}.values():
        append(log, header)
    return jobs, progress


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
    executor: Executor | None = None,
    tasks_file: str | None = None,
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
    ``executor``: where samples run (default :class:`~thrifty.evals.executors.LocalExecutor`); this
    process alone writes the log, whichever it is, so every sample is logged once.
    ``tasks_file``: the task file's name, shown in reports (not part of the run's identity).
    """
    config = config or LoopConfig()
    headers = [run_header(c, backends, config, tasks_sha256 or "", grader, tools, tasks_file) for c in conditions]
    log = LogWriter(open_log(log_path))  # locks the log: a second writer fails here, before running anything
    try:
        jobs, progress = _pending(log_path, log.log, tasks, conditions, headers, traces=traces)
        work = SampleWork(tools, config, prices, retries, grader)
        ctx = EvalContext(work, backends, log_path.parent, concurrency, progress.lost)
        try:
            async with asyncio.TaskGroup() as writes:  # lines finishing together share one fsync
                async for done in (executor or LocalExecutor()).run(jobs, ctx):
                    writes.create_task(_acknowledge(log, log_path.parent, done, progress, on_sample))
        except BaseExceptionGroup as group:  # the one error (the executor's or a write's), as raised
            raise group.exceptions[0] if len(group.exceptions) == 1 else group from None
    finally:
        await log.aclose()
    return progress


async def _acknowledge(
    log: LogWriter,
    log_dir: Path,
    done: Finished,
    progress: Progress,
    on_sample: Callable[[SampleLog, Progress], None] | None,
) -> None:
    """Count a sample (progress, ``on_sample``) only once its line is on disk: acknowledged."""
    if await _write(log, log_dir, done):
        progress.record(done.sample)
        if on_sample is not None:
            on_sample(done.sample, progress)
    else:
        progress.errors += 1


async def _write(log: LogWriter, log_dir: Path, done: Finished) -> bool:
    """The one writer: the trace (when it came back with the sample), then the sample's line; the
    file work runs off the event loop. False when the line could not be written."""

    def write_trace() -> None:
        assert done.trace_text is not None and done.job.trace is not None
        trace = log_dir / done.job.trace
        trace.parent.mkdir(parents=True, exist_ok=True)
        with trace.open("a", encoding="utf-8") as f:
            f.write(done.trace_text)

    try:
        if done.trace_text is not None and done.job.trace is not None:
            await asyncio.to_thread(write_trace)
        await log.write(done.sample)
    except Exception:
        logger.exception("could not log sample %s of run %s", done.job.task.id, done.job.run)
        return False
    return True
