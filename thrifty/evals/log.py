"""The eval log: append-only JSONL, fsynced before a sample counts as done, one writer at a time.

Two kinds of line:

- a **run header** (``"kind": "header"``): what produced the samples — model, endpoints, strategy
  and its parameters, budget label and limits, loop settings, code version, task-file hash. Its
  hash (``run``) is part of every sample's resume key, so rerunning with another model, limit or
  setting never skips samples of a different run, and reports group by run.
- a **sample** (``"kind": "sample"``): one finished attempt at one task, ``status`` ``"done"`` or
  ``"error"``. An errored sample is retried on resume and never scored as wrong.

A sample is **acknowledged** when :meth:`LogWriter.write` returns: its line, and every line before
it, is then fsynced. Only then does the runner count it (progress, ``on_sample``, the CLI's bar), so
a run killed at any moment (even ``kill -9``) loses only samples that were never acknowledged. Lines
that finish together are committed together (one write and one fsync per group), so the log costs
one fsync per burst of finished samples, not one per sample.

A run killed mid-write leaves at most one partial last line; :func:`open_log` cuts it off before
appending. Lines this version cannot read (another tool's JSON, a newer format) are skipped with a
warning and counted, never a crash. Version-1 logs (no headers) read as the run ``"v1"``.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TextIO

from thrifty.errors import ConfigError
from thrifty.records import dump, load

LOG_VERSION = 2
LEGACY_RUN = "v1"
"""The run id given to samples from version-1 logs, which carry no header."""

logger = logging.getLogger(__name__)


_NOT_IDENTITY = ("kind", "version", "tasks_file", "created")


@dataclass(frozen=True)
class RunHeader:
    """Everything that makes two samples comparable; its hash identifies the run."""

    model: str
    endpoints: list[str]
    strategy: str
    strategy_params: dict[str, Any]
    budget: str
    limits: dict[str, Any]
    loop_config: dict[str, Any]
    code_version: str
    tasks_sha256: str
    grader: str | None = None
    """The grader model, when an LLM judges the answers (BrowseComp)."""
    mcp: list[dict[str, Any]] | None = None
    """The MCP servers whose tools were offered (target, tool names, prices); None without ``--mcp``,
    so runs without MCP keep the hash they always had."""
    tasks_file: str | None = None
    """The task file's name, and ``created`` the UTC time the run was first logged: shown by
    reports, not part of the run's identity (a renamed copy of a task file is the same run)."""
    created: str | None = None
    kind: str = "header"
    version: int = LOG_VERSION

    @property
    def run(self) -> str:
        """A short stable hash of every identity field (key order and whitespace do not matter)."""
        identity = {k: v for k, v in asdict(self).items() if k not in _NOT_IDENTITY and v is not None}
        blob = json.dumps(identity, sort_keys=True, ensure_ascii=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_line(self) -> dict[str, Any]:
        line: dict[str, Any] = dump(self)
        return {**line, "run": self.run}


@dataclass(frozen=True)
class SampleLog:
    task_id: str
    strategy: str
    budget: str
    question: str
    target: str
    answer: str | None
    correct: bool
    stop_reason: str
    exhausted: str | None
    usage: dict[str, Any]
    cost_usd: float
    seconds: float
    error: str | None = None
    attempts: int = 1
    candidates: list[str] = field(default_factory=list)
    endpoint: str | None = None
    """The server that ran the sample, when several share the load."""
    run: str = LEGACY_RUN
    """The run header's hash (see :class:`RunHeader`)."""
    status: Literal["done", "error"] = "done"
    """``error``: the sample could not be run (server down, a crash); retried on resume, never scored."""
    correct_any: bool | None = None
    """pass@N: the answer or any candidate is correct (None in version-1 logs)."""
    limits: dict[str, Any] = field(default_factory=dict)
    overrun: dict[str, Any] | None = None
    """What was spent beyond a limit (only possible when a server bills more than was counted)."""
    trace: str | None = None
    """The sample's JSONL trace, relative to the log's folder."""
    confidence: float | None = None
    """0..1, the response's stated confidence as the grader extracted it (graded tasks only)."""
    kind: str = "sample"
    version: int = LOG_VERSION

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The resume key. Strategy and budget are implied by the run, except in version-1 logs."""
        return (self.run, self.task_id, self.strategy, self.budget)


@dataclass
class EvalLog:
    """A parsed log: run headers by id, samples in file order, and how many lines were skipped."""

    headers: dict[str, RunHeader] = field(default_factory=dict)
    samples: list[SampleLog] = field(default_factory=list)
    skipped: int = 0


_SAMPLE_FIELDS = {f.name for f in fields(SampleLog)}
_HEADER_FIELDS = {f.name for f in fields(RunHeader)}


def _parse(item: Any, log: EvalLog) -> bool:
    """Add one decoded line to ``log``; False when it is not a line this version understands."""
    if not isinstance(item, dict):
        return False
    version, kind = item.get("version"), item.get("kind", "sample")
    if version == 1 and "kind" not in item:
        item = {**item, "version": LOG_VERSION, "run": LEGACY_RUN}
    elif version != LOG_VERSION:
        return False
    try:
        if kind == "header":
            header = load(RunHeader, {k: v for k, v in item.items() if k in _HEADER_FIELDS})
            log.headers[header.run] = header
        elif kind == "sample" and set(item) <= _SAMPLE_FIELDS:
            log.samples.append(load(SampleLog, item))
        else:
            return False
    except ValueError:  # a required field is missing, or a value of the wrong type
        return False
    return True


def load_log(path: Path) -> EvalLog:
    """Read every complete line; a torn last line is ignored, an unreadable one skipped and counted."""
    log = EvalLog()
    if not path.exists():
        return log
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for number, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break  # a torn last line from a killed run: cut before the next append
            if not line.strip():
                continue
            try:
                ok = _parse(json.loads(line), log)
            except ValueError:
                ok = False
            if not ok:
                log.skipped += 1
                logger.warning("%s:%d: skipped a line this version of thrifty cannot read", path, number)
    return log


def read_log(path: Path) -> Iterator[SampleLog]:
    """Every sample in the log, finished and errored (see :func:`load_log`)."""
    yield from load_log(path).samples


def done_keys(path: Path) -> set[tuple[str, str, str, str]]:
    """Keys of finished samples. Errored ones are not here, so a resume runs them again."""
    return {s.key for s in read_log(path) if s.status == "done"}


def open_log(path: Path) -> TextIO:
    """Lock the log for this writer, remove a partial last line, and open it for appending.

    The lock (``flock``, released when the file is closed or the process dies) makes a second eval
    on the same log fail at once instead of running every sample twice.
    """
    if path.is_dir():
        raise ConfigError("--log", f"{path} is a folder; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "a+", encoding="utf-8")  # noqa: SIM115 -- returned open, closed by the runner
    try:
        fcntl.flock(log.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.close()
        raise ConfigError("--log", f"{path} is being written by another eval; wait for it or use another log") from None
    size = os.fstat(log.fileno()).st_size
    if size:
        with open(path, "rb") as f:
            data = f.read()
        if not data.endswith(b"\n"):
            os.truncate(log.fileno(), data.rfind(b"\n") + 1)
    return log


def encode_line(item: dict[str, Any]) -> bytes:
    """One JSON line as UTF-8. Lone surrogates (a model can emit ``\\ud800``) are written as JSON
    escapes instead of failing the write, so one odd answer never loses a sample."""
    text = json.dumps(item, ensure_ascii=False, default=str) + "\n"
    return text.encode("utf-8", "backslashreplace")


def append(log: TextIO, item: SampleLog | RunHeader) -> None:
    """Write one line and fsync it (outside an event loop; samples go through :class:`LogWriter`)."""
    _commit(log, [_line(item)])


def _line(item: SampleLog | RunHeader) -> bytes:
    return encode_line(item.to_line() if isinstance(item, RunHeader) else dump(item))


def _commit(log: TextIO, lines: Sequence[bytes]) -> None:
    log.flush()
    log.buffer.write(b"".join(lines))
    log.buffer.flush()
    os.fsync(log.fileno())


class LogWriter:
    """Group commit of log lines from many concurrent samples, on one event loop.

    Lines queue while a commit is on disk; the next commit takes all of them in one write and one
    fsync (off the event loop). :meth:`write` returns when its line is durable (acknowledged).
    """

    def __init__(self, log: TextIO) -> None:
        self.log = log
        self.commits = 0
        """fsyncs made: with many samples finishing at once, far fewer than lines."""
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def write(self, item: SampleLog | RunHeader) -> None:
        line = _line(item)
        done = asyncio.get_running_loop().create_future()
        self._queue.append((line, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_all())
        await asyncio.shield(done)  # a cancelled sample still gets its line committed, or an error

    async def _commit_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(_commit, self.log, [line for line, _ in batch])
            except Exception as exc:  # the disk is full, the file went away: every waiter hears it
                for _, done in batch:
                    done.set_exception(exc)
            else:
                self.commits += 1
                for _, done in batch:
                    done.set_result(None)

    async def aclose(self) -> None:
        """Close the file (which releases the lock) once the commit in progress is on disk."""
        if self._committer is not None:
            await asyncio.wait([self._committer])
        self.log.close()
