"""The eval log: append-only JSONL, one finished sample per line, flushed and fsynced per sample.

A run killed mid-write leaves at most one partial last line; :func:`open_log` cuts it off before
appending, and :func:`done_keys` tells the runner which samples are finished, so a rerun resumes
without losing or duplicating any sample.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

LOG_VERSION = 1


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
    version: int = LOG_VERSION

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task_id, self.strategy, self.budget)


def read_log(path: Path) -> Iterator[SampleLog]:
    """Every complete line (a torn last line from a killed run is skipped)."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("version") == LOG_VERSION:
                yield SampleLog(**item)


def done_keys(path: Path) -> set[tuple[str, str, str]]:
    return {s.key for s in read_log(path)}


def open_log(path: Path) -> IO[str]:
    """Open for appending after removing a partial last line, if any."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        with open(path, "rb+") as f:
            data = f.read()
            if not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    return open(path, "a", encoding="utf-8")


def append(log: IO[str], sample: SampleLog) -> None:
    log.write(json.dumps(asdict(sample), ensure_ascii=False) + "\n")
    log.flush()
    os.fsync(log.fileno())
