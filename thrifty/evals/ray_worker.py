"""The Ray worker: one long-lived async actor per endpoint, running many samples on its own event loop.

Plain Python with no Ray import: :mod:`thrifty.evals.ray_executor` turns :class:`EvalWorker` into an
actor class. The worker builds its backend and tools *from recipes* (live clients and index handles do
not travel between processes); each sample gets a fresh Agent and ledger through the same
:meth:`~thrifty.evals.sample.SampleWork.run` the local executor calls. Samples are never logged here:
the driver alone writes the log, so a worker that dies loses no line and duplicates none.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from thrifty.agents.controller import LoopConfig
from thrifty.backends.base import Backend
from thrifty.budget import Ledger, PriceTable
from thrifty.evals.log import SampleLog
from thrifty.evals.sample import Job, SampleWork
from thrifty.tools.base import Tool

BackendRecipe = Callable[[], Backend]
ToolsRecipe = Callable[[], Sequence[Tool]]


@dataclass(frozen=True)
class WorkRecipe:
    """Everything a worker needs to build its :class:`SampleWork` (picklable)."""

    tools: ToolsRecipe
    config: LoopConfig
    prices: PriceTable | None
    retries: int
    grader: BackendRecipe | None

    def build(self) -> SampleWork:
        grader = None if self.grader is None else self.grader()
        return SampleWork(list(self.tools()), self.config, self.prices, self.retries, grader)


class EvalWorker:
    """Runs samples for one endpoint. ``trace_root``: a folder every node and the driver share, where
    traces are written in place; without one, each trace is written to a scratch folder, read back and
    returned with its sample for the driver to write."""

    def __init__(self, backend: BackendRecipe, work: WorkRecipe, trace_root: str | None = None) -> None:
        self.backend = backend()
        self.work = work.build()
        self.trace_root = None if trace_root is None else Path(trace_root)
        self.live: dict[str, Ledger] = {}

    async def run(self, job: Job) -> tuple[SampleLog, str | None]:
        if job.trace is None or self.trace_root is not None:
            return await self.work.run(self.backend, job, self.trace_root, self.live), None
        scratch = Path(tempfile.mkdtemp(prefix="thrifty-trace-"))
        try:
            sample = await self.work.run(self.backend, job, scratch, self.live)
            written = scratch / job.trace
            return sample, written.read_text(encoding="utf-8") if written.exists() else None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def spending(self) -> dict[str, tuple[int, float]]:
        """Tokens and dollars spent so far by each attempt in flight, by session id (the heartbeat)."""
        return {key: (ledger.used.total_tokens, ledger.used.cost_usd) for key, ledger in self.live.items()}

    async def close(self) -> None:
        await self.backend.aclose()
