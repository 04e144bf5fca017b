"""Samples on a Ray cluster (``pip install 'thrifty[ray]'``; Ray is imported only here, when used).

One long-lived async worker actor per endpoint (:class:`~thrifty.evals.ray_worker.EvalWorker`) runs
many samples on its own event loop; the driver keeps at most ``per_endpoint`` samples in flight on each,
so Ray's queues never hold the backlog. A worker that dies (its node lost) or that never becomes ready
within ``ready_timeout`` (a node that is gone but still listed alive) is dropped: its in-flight samples
go back to the queue and run elsewhere, counted with what they had spent as ``ctx.losses``. Each
endpoint gets ``replacements`` new workers, placed anywhere, before it is given up; the eval fails
only when every endpoint has been given up with samples left (the log keeps all finished ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from thrifty.backends.base import Backend
from thrifty.errors import ConfigError
from thrifty.evals.executors import EvalContext, Finished
from thrifty.evals.log import SampleLog
from thrifty.evals.ray_worker import BackendRecipe, EvalWorker, ToolsRecipe, WorkRecipe
from thrifty.evals.sample import Job, errored

logger = logging.getLogger(__name__)


def load_ray() -> Any:
    """The ``ray`` module (untyped here on purpose: this file is the only place that touches it)."""
    try:
        import importlib

        return importlib.import_module("ray")
    except ImportError:
        raise ConfigError("--ray", "Ray is not installed: pip install 'thrifty[ray]'") from None


def _same(value: Any) -> Any:
    return value


def recipe(backend: Backend) -> BackendRecipe:
    """How a worker builds ``backend``: its own ``recipe()`` when it has one (live clients do not
    pickle), else a pickled copy of the object itself (scripted and stub backends)."""
    own: Callable[[], BackendRecipe] | None = getattr(backend, "recipe", None)
    return own() if own is not None else functools.partial(_same, backend)


class _Worker:
    """A typed handle on one actor."""

    def __init__(self, handle: Any, ray: Any) -> None:
        self.handle, self._ray = handle, ray

    async def ready(self) -> None:
        await self.handle.__ray_ready__.remote()

    async def run(self, job: Job) -> tuple[SampleLog, str | None]:
        result: tuple[SampleLog, str | None] = await self.handle.run.remote(job)
        return result

    async def spending(self) -> dict[str, tuple[int, float]]:
        spent: dict[str, tuple[int, float]] = await self.handle.spending.remote()
        return spent

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self._ray.kill(self.handle, no_restart=True)


@dataclass
class RayExecutor:
    """Run an eval's samples on the Ray cluster at ``address`` (``"auto"``: the local cluster; None:
    a Ray started for this eval, or the one this process is already connected to)."""

    address: str | None = "auto"
    per_endpoint: int | None = None
    """Samples in flight per worker (default: the eval's concurrency shared over the endpoints)."""
    tools: ToolsRecipe | None = None
    """Builds the tools on each worker (default: a pickled copy of the driver's tools)."""
    resources: Sequence[dict[str, float]] | None = None
    """Custom Ray resources each endpoint's worker needs, in endpoint order (default: placed on the
    node whose address is the endpoint's host when there is one, else anywhere)."""
    trace_root: str | None = None
    """A folder shared by every node and the driver, the log's folder there: traces are written in
    place. Default: traces come back with their samples and the driver writes them."""
    ready_timeout: float = 60.0
    heartbeat: float = 2.0
    replacements: int = 1
    _ray: Any = field(default=None, init=False, repr=False)

    async def run(self, jobs: Sequence[Job], ctx: EvalContext) -> AsyncIterator[Finished]:
        self._ray = load_ray()
        started = self._connect()
        try:
            async for done in self._run(jobs, ctx):
                yield done
        finally:
            if started:
                self._ray.shutdown()

    def _connect(self) -> bool:
        """Connect unless this process already is; True when this executor started the connection."""
        if self._ray.is_initialized():
            return False
        try:
            self._ray.init(address=self.address, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a new local Ray"
            raise ConfigError("--ray", f"cannot connect to {where}: {str(exc).splitlines()[0][:300]}") from None
        return True

    async def _run(self, jobs: Sequence[Job], ctx: EvalContext) -> AsyncIterator[Finished]:
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        out: asyncio.Queue[Finished] = asyncio.Queue()
        per = self.per_endpoint or max(1, -(-ctx.concurrency // len(ctx.backends)))
        work = WorkRecipe(
            self.tools or functools.partial(_same, list(ctx.work.tools)),
            ctx.work.config,
            ctx.work.prices,
            ctx.work.retries,
            None if ctx.work.grader is None else recipe(ctx.work.grader),
        )
        endpoints = [_Endpoint(self, i, recipe(b), work, per, queue, out, ctx) for i, b in enumerate(ctx.backends)]
        tasks = [asyncio.ensure_future(e.serve()) for e in endpoints]
        try:
            for _ in jobs:
                yield await _next(out, tasks, queue)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def options(self, index: int, host: str | None, per: int, fresh: bool) -> dict[str, Any]:
        """Actor options: room for ``per`` samples and the heartbeat; no restarts and no task retries,
        so the driver alone decides what runs again (and counts it)."""
        opts: dict[str, Any] = {"max_concurrency": per + 2, "num_cpus": 0, "max_restarts": 0, "max_task_retries": 0}
        if fresh and self.resources is not None and index < len(self.resources) and self.resources[index]:
            opts["resources"] = dict(self.resources[index])
        elif fresh and (node := self._node_at(host)) is not None:
            strategy = self._ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy
            opts["scheduling_strategy"] = strategy(node_id=node, soft=True)
        return opts

    def _node_at(self, host: str | None) -> str | None:
        """The alive node whose address is ``host`` (resolved), if any."""
        if not host:
            return None
        try:
            address = socket.gethostbyname(host)
        except OSError:
            return None
        for node in self._ray.nodes():
            if node.get("Alive") and node.get("NodeManagerAddress") == address:
                return str(node["NodeID"])
        return None


async def _next(
    out: asyncio.Queue[Finished], tasks: Sequence[asyncio.Future[None]], queue: asyncio.Queue[Job]
) -> Finished:
    """The next finished sample; raises when every endpoint has been given up with samples left."""
    getter = asyncio.ensure_future(out.get())
    try:
        while not getter.done():
            serving = [t for t in tasks if not t.done()]
            if not serving:
                raise RuntimeError(
                    f"every Ray worker was lost; {queue.qsize()} sample(s) not run (rerun the same command to resume)"
                )
            waiting: list[asyncio.Future[Any]] = [getter, *serving]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        return getter.result()
    finally:
        getter.cancel()


@dataclass
class _Endpoint:
    """One endpoint's worker, its in-flight samples and its replacements."""

    executor: RayExecutor
    index: int
    backend: BackendRecipe
    work: WorkRecipe
    per: int
    queue: asyncio.Queue[Job]
    out: asyncio.Queue[Finished]
    ctx: EvalContext
    spent: dict[str, tuple[int, float]] = field(default_factory=dict)

    async def serve(self) -> None:
        ray, ex = self.executor._ray, self.executor
        host = urlsplit(str(getattr(self.ctx.backends[self.index], "base_url", "") or "")).hostname
        actor_class = ray.remote(EvalWorker)
        for attempt in range(ex.replacements + 1):
            opts = ex.options(self.index, host, self.per, fresh=attempt == 0)
            worker = _Worker(actor_class.options(**opts).remote(self.backend, self.work, ex.trace_root), ray)
            try:
                async with asyncio.timeout(ex.ready_timeout):
                    await worker.ready()
                await self._drive(worker)  # returns when the worker is lost; cancelled when the eval ends
            except Exception as exc:  # never scheduled, or died while starting
                logger.warning("Ray worker for endpoint %d not ready: %s", self.index, type(exc).__name__)
            finally:
                worker.kill()
            self.ctx.losses.workers += 1
        logger.warning("endpoint %d given up after %d Ray worker(s)", self.index, ex.replacements + 1)

    async def _drive(self, worker: _Worker) -> None:
        """Run samples on ``worker`` until it dies (returns) or the eval ends (cancelled)."""
        dead = asyncio.Event()
        slots = [asyncio.ensure_future(self._slot(worker, dead)) for _ in range(self.per)]
        watch = asyncio.ensure_future(self._heartbeat(worker, dead))
        try:
            await dead.wait()
        finally:
            for task in [*slots, watch]:
                task.cancel()
            await asyncio.gather(*slots, watch, return_exceptions=True)
            self.spent.clear()

    async def _slot(self, worker: _Worker, dead: asyncio.Event) -> None:
        while True:
            job = await self.queue.get()
            try:
                sample, trace = await worker.run(job)
            except asyncio.CancelledError:
                self._requeue(job)
                raise
            except self.executor._ray.exceptions.RayActorError as exc:
                logger.warning("Ray worker for endpoint %d lost: %s", self.index, type(exc).__name__)
                self._requeue(job)
                dead.set()
                return
            except Exception as exc:  # the job itself failed to travel or to run: its own error line
                sample, trace = errored(job.task, job.condition, exc), None
            self.out.put_nowait(Finished(job, sample, trace))

    def _requeue(self, job: Job) -> None:
        self.queue.put_nowait(job)
        self.ctx.losses.add(*self.spent.pop(job.session, (0, 0.0)))

    async def _heartbeat(self, worker: _Worker, dead: asyncio.Event) -> None:
        ex = self.executor
        while True:
            await asyncio.sleep(ex.heartbeat)
            try:
                async with asyncio.timeout(ex.ready_timeout):
                    self.spent = await worker.spending()
            except Exception as exc:  # no answer in time: a node that is gone but not yet declared dead
                logger.warning("Ray worker for endpoint %d silent: %s", self.index, type(exc).__name__)
                dead.set()
                return
