"""An eval log (or two) as one page: the runs, the summary table, the two charts, every sample in a
filterable table with its trajectory a click away, and two runs compared task by task.

The same page is the eval report's ``report.html`` (:func:`thrifty.viewer.report.write_report`) and
what ``thrifty view LOG`` shows, so both fix and show the same things.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from thrifty.evals.log import LEGACY_RUN, EvalLog, RunHeader, SampleLog
from thrifty.evals.report import Row, latest_samples, markdown, summarize, usd
from thrifty.traces import read_trace
from thrifty.viewer.charts import accuracy_chart, budget_axis, cost_chart
from thrifty.viewer.timeline import page, runs_html
from thrifty.viewer.trajectory import explain_stop, runs_of


@dataclass
class LogSource:
    """One eval log: its name (shown when two are compared), parsed lines and its folder (traces
    are named relative to it; None: traces are not shown)."""

    name: str
    log: EvalLog
    folder: Path | None = None
    modified: float | None = None


@dataclass
class _Run:
    id: str
    label: str
    source: str
    header: RunHeader | None
    samples: list[SampleLog] = field(default_factory=list)


def eval_title(sources: Sequence[LogSource]) -> str:
    """``thrifty evaluation: tasks.jsonl · model qwen · 2026-11-30 18:00 UTC`` from the run headers
    (the log's name and modification date for logs written before headers named them)."""
    headers = [h for s in sources for h in s.log.headers.values()]
    files = sorted({h.tasks_file for h in headers if h.tasks_file}) or [s.name for s in sources]
    models = sorted({h.model for h in headers}) or ["unknown model"]
    dates = sorted({h.created for h in headers if h.created})
    if not dates:
        stamps = [s.modified for s in sources if s.modified]
        dates = [time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(max(stamps)))] if stamps else []
    when = dates[-1] if dates else "date unknown"
    return f"thrifty evaluation: {', '.join(files)} · model {', '.join(models)} · {when}"


def _runs(sources: Sequence[LogSource]) -> list[_Run]:
    runs: dict[str, _Run] = {}
    for source in sources:
        done, errored = latest_samples(source.log.samples)
        for sample in sorted([*done, *errored.values()], key=lambda s: (s.run, s.task_id)):
            key = f"{source.name}/{sample.run}" if len(sources) > 1 else sample.run
            if sample.run == LEGACY_RUN:  # version-1 logs have no run ids: one run per condition
                key += f":{sample.strategy}@{sample.budget}"
            if key not in runs:
                header = source.log.headers.get(sample.run)
                model = f" · {header.model}" if header else ""
                prefix = f"{source.name}: " if len(sources) > 1 else ""
                label = f"{prefix}{sample.strategy}@{sample.budget}{model}"
                runs[key] = _Run(key, label, source.name, header)
            runs[key].samples.append(sample)
    return list(runs.values())


def _summary(sources: Sequence[LogSource]) -> tuple[list[Row], dict[str, str]]:
    """Summary rows of every log; with two logs, each row's run is tagged with its log's name."""
    rows: list[Row] = []
    groups: dict[str, str] = {}
    for source in sources:
        for row in summarize(source.log.samples):
            rows.append(row)
            if len(sources) > 1:
                groups[row.run] = source.name
    rows.sort(key=lambda r: (groups.get(r.run, ""), r.strategy, _budget_key(r.budget)))
    return rows, groups


def _table(rows: list[Row]) -> str:
    header, _, *body = markdown(rows).splitlines()

    def cells(line: str, tag: str) -> str:
        return "".join(f"<{tag}>{escape(c.strip())}</{tag}>" for c in line.strip().strip("|").split("|"))

    return (
        f"<table class='summary'><thead><tr>{cells(header, 'th')}</tr></thead><tbody>"
        + "".join(f"<tr>{cells(line, 'td')}</tr>" for line in body)
        + "</tbody></table>"
    )


def _trajectory(source: LogSource, sample: SampleLog) -> str | None:
    if source.folder is None or not sample.trace:
        return None
    path = source.folder / sample.trace
    try:
        return runs_html(runs_of(read_trace(path)))
    except OSError:
        return f"<p class='empty'>the trace {escape(str(path))} cannot be read</p>"


def _cell(value: str, cls: str = "") -> str:
    return f"<td class='{cls}'>{escape(value)}</td>" if cls else f"<td>{escape(value)}</td>"


MARKS = {"yes": "✓", "no": "✗", "error": "!"}


def _sample_row(index: int, run: _Run, sample: SampleLog, has_trace: bool) -> str:
    correct = "error" if sample.status == "error" else "yes" if sample.correct else "no"
    stop = "error" if sample.status == "error" else sample.stop_reason
    tokens = sample.usage.get("input_tokens", 0) + sample.usage.get("output_tokens", 0)
    units = sum((sample.usage.get("tool_units") or {}).values())
    attrs = {
        "data-strategy": sample.strategy,
        "data-budget": sample.budget,
        "data-correct": correct,
        "data-stop": stop,
        "data-run": run.id,
        "data-sample": str(index),
    }
    why = sample.error or explain_stop(
        {"stop_reason": sample.stop_reason, "exhausted": sample.exhausted, "detail": None, "error": None}
    )
    button = f"<button class='open' data-sample='{index}'>trajectory</button>" if has_trace else "—"
    return (
        "<tr class='sample' " + " ".join(f"{k}='{escape(v)}'" for k, v in attrs.items()) + ">"
        f"{_cell(sample.task_id)}{_cell(sample.question[:160], 'q')}{_cell(run.label)}"
        f"{_cell(sample.answer or '—')}{_cell(sample.target)}{_cell(MARKS[correct], correct)}"
        f"<td title='{escape(why)}'>{escape(stop)}</td>{_cell(f'{tokens:,}')}{_cell(str(units))}"
        f"{_cell('$' + usd(sample.cost_usd))}{_cell(f'{sample.seconds:.1f}')}<td>{button}</td></tr>"
    )


def _select(name: str, label: str, values: Sequence[str]) -> str:
    options = "".join(f"<option value='{escape(v)}'>{escape(v)}</option>" for v in values)
    return (
        f"<label>{escape(label)} <select data-filter='{name}'><option value=''>all</option>{options}</select></label>"
    )


def _samples(runs: list[_Run], sources: Sequence[LogSource]) -> tuple[str, list[dict[str, Any]]]:
    """The sample table with its filters, the trajectories as templates, and the rows as data for
    the comparison."""
    by_name = {s.name: s for s in sources}
    rows: list[str] = []
    templates: list[str] = []
    data: list[dict[str, Any]] = []
    for run in runs:
        for sample in run.samples:
            index = len(data)
            trajectory = _trajectory(by_name[run.source], sample)
            if trajectory is not None:
                templates.append(f"<template id='trajectory-{index}'>{trajectory}</template>")
            rows.append(_sample_row(index, run, sample, trajectory is not None))
            data.append(_sample_data(index, run, sample, trajectory is not None))
    samples = [s for r in runs for s in r.samples]
    filters = (
        _select("strategy", "strategy", sorted({s.strategy for s in samples}))
        + _select("budget", "budget", sorted({s.budget for s in samples}, key=_budget_key))
        + _select("correct", "correct", ["yes", "no", "error"])
        + _select("stop", "stop reason", sorted({"error" if s.status == "error" else s.stop_reason for s in samples}))
        + (_select("run", "run", [r.id for r in runs]) if len(runs) > 1 else "")
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "task",
            "question",
            "run",
            "answer",
            "target",
            "correct",
            "stop",
            "tokens",
            "tool units",
            "$",
            "s",
            "",
        )
    )
    table = (
        f"<div class='filters'>{filters}<span class='count'></span></div>"
        f"<table class='samples'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return table + "".join(templates), data


def _budget_key(label: str) -> tuple[float, str]:
    try:
        return (float(label), label)
    except ValueError:
        return (float("inf"), label)


def _sample_data(index: int, run: _Run, sample: SampleLog, has_trace: bool) -> dict[str, Any]:
    return {
        "i": index,
        "run": run.id,
        "task": sample.task_id,
        "question": sample.question[:200],
        "answer": sample.answer,
        "target": sample.target,
        "correct": None if sample.status == "error" else sample.correct,
        "stop": "error" if sample.status == "error" else sample.stop_reason,
        "cost": "$" + usd(sample.cost_usd),
        "trace": has_trace,
    }


def _runs_table(runs: list[_Run]) -> str:
    lines = []
    for run in runs:
        h = run.header
        detail = (
            f"model {h.model} · limits {json.dumps(h.limits)} · tasks sha256 {h.tasks_sha256[:12]} · "
            f"thrifty {h.code_version}" + (f" · MCP {', '.join(m['server'] for m in h.mcp)}" if h.mcp else "")
            if h
            else "no run header (a version-1 log)"
        )
        lines.append(
            f"<tr><td>{escape(run.label)}</td><td><code>{escape(run.id)}</code></td><td>{escape(detail)}</td></tr>"
        )
    head = "<thead><tr><th>run</th><th>id</th><th>settings</th></tr></thead>"
    return f"<table class='runs'>{head}<tbody>{''.join(lines)}</tbody></table>"


def _compare(runs: list[_Run]) -> str:
    if len(runs) < 2:
        return ""
    options = "".join(f"<option value='{escape(r.id)}'>{escape(r.label)}</option>" for r in runs)
    second = next((r for r in runs if r.source != runs[0].source), runs[1])
    return (
        "<section id='compare'><h2>Two runs side by side</h2>"
        f"<div class='filters'><label>A <select id='compare-a'>{options}</select></label>"
        f"<label>B <select id='compare-b' data-default='{escape(second.id)}'>{options}</select></label>"
        "<span class='compare-summary'></span></div>"
        "<table class='compare'><thead></thead><tbody></tbody></table></section>"
    )


def eval_body(sources: Sequence[LogSource], rows: list[Row] | None = None) -> str:
    """The page body for one or two logs (``rows``: the summary to show, default all of them)."""
    summary, groups = _summary(sources)
    rows = summary if rows is None else rows
    runs = _runs(sources)
    limits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        if run.header is not None:
            limits[run.header.budget].append(run.header.limits)
    charts = accuracy_chart(rows, budget_axis(limits), groups) + cost_chart(rows, groups)
    table, data = _samples(runs, sources)
    payload = json.dumps({"runs": [{"id": r.id, "label": r.label} for r in runs], "samples": data})
    payload = payload.replace("</", "<\\/")  # no "</script>" inside the script element
    return (
        f"<section id='runs'><h2>Runs</h2>{_runs_table(runs)}</section>"
        f"<section id='summary'><h2>Summary</h2>{_table(rows)}<div class='charts'>{charts}</div></section>"
        f"<section id='samples-section'><h2>Samples</h2>{table}</section>{_compare(runs)}"
        "<dialog id='panel'><form method='dialog'><button class='close'>close</button></form>"
        "<div class='panel-body'></div></dialog>"
        f"<script type='application/json' id='eval-data'>{payload}</script>"
    )


def eval_page(sources: Sequence[LogSource], rows: list[Row] | None = None, title: str | None = None) -> str:
    return page(title or eval_title(sources), eval_body(sources, rows))
