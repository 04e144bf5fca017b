"""Record/replay: a cache of model and tool calls keyed by request, so a run replays offline.

Wrap a backend with :class:`RecordingBackend` and tools with :func:`recording_tools`, all on
one :class:`ReplayCache` (a SQLite file). Modes:

- ``record``: every call goes out and its result is stored (overwriting);
- ``replay``: every call must be in the cache; a miss raises :class:`ReplayMiss` (strict: a bug
  report or an eval replays exactly, with no network and no model);
- ``auto``: hits replay, misses go out and are recorded.

Keys are the SHA-256 of the canonical request plus its occurrence number in the session, so N
identical sampling requests (self-consistency, particles) replay their N distinct answers in order.
Replayed completions keep their recorded usage, so the ledger charges exactly what the recorded run
paid and every budget decision repeats. Model calls a tool makes (browse summaries) are recorded
with the tool's output and re-issued on replay through the run's charged caller, which the cached
backend answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from thrifty.backends.base import (
    Backend,
    BackendWrapper,
    ChatRequest,
    Completion,
    TokenCount,
    ToolSpec,
)
from thrifty.errors import BackendError, ConfigError
from thrifty.records import dump, load
from thrifty.tools.base import Tool, ToolContext, ToolResult

Mode = Literal["record", "replay", "auto"]
T = TypeVar("T")


class ReplayMiss(BackendError):
    """A strict replay met a call that was never recorded (the run diverged from the recording)."""


FORMAT = "thrifty-replay"
VERSION = 2
_WRITE_TRIES = 6
_BUSY_SECONDS = 1.0


def _digest(key: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{key}\0{kind}\0{value}".encode()).hexdigest()


_LATER_DEFAULTS: dict[str, Any] = {"n": 1}
"""Request fields added after caches were first written, with their defaults: a request that leaves
one at its default has the key it had before the field existed, so older caches still answer."""


def _without_later_defaults(payload: Any) -> Any:
    """``payload`` (a request, or a list holding one) without the later fields left at their default."""
    if isinstance(payload, dict):
        return {k: v for k, v in payload.items() if k not in _LATER_DEFAULTS or v != _LATER_DEFAULTS[k]}
    if isinstance(payload, list):
        return [_without_later_defaults(item) if isinstance(item, dict) else item for item in payload]
    return payload


class ReplayCache:
    """A key → JSON store in SQLite, plus per-session occurrence counters.

    Each entry carries a SHA-256 over its key, kind and value, checked on every read: an entry edited
    by hand (another answer, ten million tokens of usage) or damaged on disk is refused with an error
    naming the file, never replayed. (The hash catches edits and corruption, not a forger who
    recomputes it: a cache file is trusted like the code that replays it.) A file that is not SQLite
    or not a thrifty cache is a one-line :class:`ConfigError`. Several processes may record into one
    file: SQLite's busy timeout plus a rollback-and-retry keeps a writer that met "database is
    locked" working instead of failing every later write.
    """

    def __init__(self, path: Path, mode: Mode = "auto") -> None:
        if mode not in ("record", "replay", "auto"):
            raise ConfigError("mode", f"must be record, replay or auto, got {mode!r}")
        if mode == "replay" and not path.is_file():
            raise ConfigError("cache", f"nothing to replay: {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.mode = mode
        self._db = sqlite3.connect(path, timeout=_BUSY_SECONDS)
        try:
            self._retry(self._prepare)
        except BaseException:
            self._db.close()
            raise
        self._seen: Counter[str] = Counter()
        self.hits = 0
        self.misses = 0

    def _prepare(self) -> None:
        if self.mode != "replay":
            # one write transaction around check-and-create: sqlite3 commits DDL at once, so without it a
            # second recorder could see the new tables before their format row exists
            self._db.execute("BEGIN IMMEDIATE")
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and self.mode != "replay":
            # idempotent: two recorders may create the same new file at once
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, kind TEXT, value TEXT, digest TEXT)"
            )
            rows = [("format", FORMAT), ("version", str(VERSION))]
            self._db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", rows)
            return
        meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall()) if "meta" in tables else {}
        if meta.get("format") == FORMAT and meta.get("version") == str(VERSION) and "calls" in tables:
            return
        if "calls" in tables and not meta:
            raise ConfigError(
                "cache", f"{self.path} was recorded by an older thrifty without integrity hashes; record again"
            )
        raise ConfigError("cache", f"{self.path} is not a thrifty replay cache (format {meta.get('format')!r})")

    def _retry(self, action: Callable[[], T]) -> T:
        """Run ``action`` in a transaction; on "database is locked" roll back, wait and try again."""
        for attempt in range(_WRITE_TRIES):
            try:
                with self._db:  # commits, or rolls back on an exception
                    return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise ConfigError("cache", f"{self.path}: {exc}") from None
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
                time.sleep(0.02 * 2**attempt)
            except sqlite3.DatabaseError as exc:
                raise ConfigError("cache", f"{self.path} is not a thrifty replay cache ({exc})") from None
        raise ConfigError("cache", f"{self.path} stayed locked by another writer through {_WRITE_TRIES} tries")

    def key(self, kind: str, payload: Any) -> str:
        keyed = _without_later_defaults(dump(payload))
        digest = hashlib.sha256(json.dumps([kind, keyed], sort_keys=True, default=str).encode()).hexdigest()
        self._seen[digest] += 1
        return f"{digest}#{self._seen[digest]}"

    def get(self, key: str) -> Any | None:
        if self.mode == "record":
            return None
        query = "SELECT kind, value, digest FROM calls WHERE key = ?"
        row = self._retry(lambda: self._db.execute(query, (key,)).fetchone())
        if row is None:
            self.misses += 1
            return None
        kind, value, digest = row
        if not isinstance(value, str) or digest != _digest(key, str(kind), value):
            raise ConfigError("cache", f"{self.path}: entry {key[:16]} fails its integrity check (edited or corrupt)")
        self.hits += 1
        return json.loads(value)  # the digest matched: this is the JSON text put() wrote

    def put(self, key: str, kind: str, value: Any) -> None:
        text = json.dumps(value)
        row = (key, kind, text, _digest(key, kind, text))
        # committed per call: a killed recording keeps everything before the kill
        self._retry(lambda: self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?)", row))

    def require(self, key: str, what: str) -> Any:
        """The cached value; in strict replay a miss is an error naming the call."""
        value = self.get(key)
        if value is None and self.mode == "replay":
            raise ReplayMiss(f"not in the replay cache {self.path}: {what}")
        return value

    def close(self) -> None:
        self._db.close()


class RecordingBackend(BackendWrapper):
    """A backend that answers from the cache and records what the wrapped backend says."""

    def __init__(self, inner: Backend, cache: ReplayCache) -> None:
        super().__init__(inner)
        self.cache = cache

    async def complete(self, request: ChatRequest) -> Completion:
        key = self.cache.key("complete", [self.model, request])
        cached = self.cache.require(key, f"model call {_preview(request)}")
        if cached is not None:
            return self._entry(lambda d: load(Completion, d), cached)
        completion = await self.inner.complete(request)
        self.cache.put(key, "complete", dump(completion, exclude={"raw"}))
        return completion

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        key = self.cache.key("count", [self.model, request])
        cached = self.cache.require(key, f"token count {_preview(request)}")
        if cached is not None:
            return self._entry(lambda d: load(TokenCount, d), cached)
        count = await self.inner.count_tokens(request)
        self.cache.put(key, "count", dump(count))
        return count

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _entry(self, build: Callable[[Any], T], cached: Any) -> T:
        return _entry(self.cache, build, cached)


class RecordingTool:
    """A tool whose outputs come from the cache; model calls it made are re-issued on replay."""

    def __init__(self, inner: Tool, cache: ReplayCache) -> None:
        self.inner = inner
        self.cache = cache

    @property
    def spec(self) -> ToolSpec:
        return self.inner.spec

    def units(self, arguments: Mapping[str, Any]) -> int:
        return self.inner.units(arguments)

    def limit_units(self, arguments: Mapping[str, Any], units: int) -> Mapping[str, Any]:
        return self.inner.limit_units(arguments, units)

    async def run(self, arguments: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        key = self.cache.key("tool", [self.spec.name, arguments])
        cached = self.cache.require(key, f"tool call {self.spec.name}({json.dumps(dump(arguments))[:120]})")
        if cached is not None:
            record = _entry(self.cache, lambda d: load(ToolRecord, d), cached)
            for request in record.requests:  # charged again, answered by the cached backend
                await ctx.complete(request)
            return ToolResult(record.content, record.is_error)
        requests: list[ChatRequest] = []

        async def complete(request: ChatRequest) -> Completion:
            requests.append(request)
            return await ctx.complete(request)

        result = await self.inner.run(arguments, replace(ctx, complete=complete))
        self.cache.put(key, "tool", dump(ToolRecord(result.content, result.is_error, tuple(requests))))
        return result


def recording_tools(tools: Iterable[Tool], cache: ReplayCache) -> list[Tool]:
    return [RecordingTool(t, cache) for t in tools]


@dataclass(frozen=True, slots=True)
class ToolRecord:
    """A recorded tool call: its output, and the model calls it made (re-issued on replay)."""

    content: str
    is_error: bool
    requests: tuple[ChatRequest, ...] = ()


def _entry(cache: ReplayCache, build: Callable[[Any], T], cached: Any) -> T:
    """A cached entry decoded by ``build``; a malformed one is a one-line error naming the file."""
    try:
        return build(cached)
    except ValueError as exc:  # pydantic's ValidationError: one line is enough to name the entry
        first = str(exc).splitlines()[:3]
        raise ConfigError("cache", f"{cache.path}: malformed entry ({' '.join(first)})") from None


def _preview(request: ChatRequest) -> str:
    last = request.messages[-1].content if request.messages else ""
    return f"({len(request.messages)} messages, last: {' '.join(last.split())[:100]!r})"
