"""Run traces: every event of a run as one JSON line (prompts, completions, tool I/O, ledger entries).

A :class:`TraceWriter` is an event handler; it flushes each line so a trace survives the process
being killed (a torn last line is skipped when reading). ``thrifty view TRACE`` shows a trace as one
page (:mod:`thrifty.viewer`) or, with ``--tree``, as a tree in the terminal
(:func:`thrifty.display.trace_tree`).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from thrifty import safejson
from thrifty.agents.events import Event, RunFinished
from thrifty.records import dump

TRACE_VERSION = 1


def event_record(event: Event) -> dict[str, Any]:
    """One trace line, written by the one serialiser (:mod:`thrifty.records`). A finished run is
    stored through ``RunResult.to_dict`` (no repeated messages)."""
    body = {"result": event.result.to_dict()} if isinstance(event, RunFinished) else dump(event)
    if "completion" in body:
        body["completion"].pop("raw", None)  # the server's raw reply duplicates the parsed fields
    return {"type": type(event).__name__, "t": round(time.time(), 3), **body}


class TraceWriter:
    """An event handler appending each event to a JSONL file (one file per run)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # A lone surrogate from a model (``\ud800``) is written as its JSON escape, not a crash.
        self._file: IO[str] | None = path.open("a", encoding="utf-8", errors="backslashreplace")
        self._write({"type": "TraceStarted", "version": TRACE_VERSION, "t": round(time.time(), 3)})

    @classmethod
    def in_directory(cls, directory: Path) -> TraceWriter:
        """A new trace file named by time and a short random id (runs never share a file)."""
        return cls(directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl")

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(safejson.dumps(record, default=str) + "\n")
        self._file.flush()

    def __call__(self, event: Event) -> None:
        self._write(event_record(event))
        if isinstance(event, RunFinished):
            self.close()

    def close(self, error: BaseException | None = None) -> None:
        """Close the file (a run ends it at ``RunFinished``; ``error``: an agent's run that raised)."""
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclasses.dataclass(frozen=True, slots=True)
class TraceFolder:
    """An agent observer (``Agent(observers=[TraceFolder(path)])``): every run writes its trace to a
    new file in ``directory``."""

    directory: Path

    def for_run(self, base_url: str | None = None) -> TraceWriter:
        return TraceWriter.in_directory(self.directory)


def read_trace(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a trace; a line torn by a kill mid-write is skipped, not fatal."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def summary(record: dict[str, Any]) -> str:
    """One line per record, shared by the terminal tree and the HTML page."""
    kind = record.get("type")
    if kind == "RunStarted":
        return f"run: {record['question']!r} ({record['strategy']}, {record['model']})"
    if kind == "StepStarted":
        return f"step {record['step'] + 1}" + (" (final answer)" if record.get("final") else "")  # as the live view
    if kind == "ModelCalled":
        c = record["completion"]
        usage = c.get("usage", {})
        calls = ", ".join(tc["name"] for tc in c.get("tool_calls", []))
        text = (c.get("text") or "").strip().replace("\n", " ")
        return (
            f"model [{record['purpose']}] {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out, "
            f"{record['seconds']:.2f} s: {calls or text[:120]}"
        )
    if kind == "ToolCalled":
        call = record["call"]
        flag = " ERROR" if record.get("is_error") else ""
        output = record["output"].strip().replace("\n", " ")
        return f"tool {call['name']}({json.dumps(call['arguments'])[:100]}){flag}: {output[:120]}"
    if kind == "BudgetCharged":
        entry = record["entry"]
        return f"charged {entry['kind']} {entry['name']} (${entry['usage'].get('cost_usd', 0):.6f})"
    if kind == "RunFinished":
        r = record["result"]
        return f"finished: {r['stop_reason']}, answer {r['answer']!r}, ${r['cost_usd']:.6f}"
    return str(kind)
