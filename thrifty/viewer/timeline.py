"""Runs as HTML: a timeline of steps (model replies as fields, tool calls with their output), the
budget after each step as bars, and the answer with the stop reason in words.

Every string from a trace is escaped: model, tool and server text is untrusted and must not run
as markup in the page.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import Any

from thrifty.evals.report import usd
from thrifty.viewer.trajectory import Bar, ModelItem, Run, Step, ToolItem, explain_stop

MAX_OUTPUT_CHARS = 3000
"""Tool output shown per call; the rest is counted, not shown (the trace file has it all)."""


def page(title: str, body: str) -> str:
    """One self-contained page: the stylesheet and script inline, nothing fetched when opened."""
    static = resources.files("thrifty.viewer").joinpath("static")
    css = static.joinpath("viewer.css").read_text(encoding="utf-8")
    js = static.joinpath("viewer.js").read_text(encoding="utf-8")
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{css}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}<script>{js}</script></body></html>"
    )


def value_html(value: Any) -> str:
    """A field's value: text as text (line breaks kept), objects as ``key: value`` lines."""
    if isinstance(value, str):
        return f"<div class='text'>{escape(value)}</div>"
    if isinstance(value, dict):
        rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{value_html(v)}</dd>" for k, v in value.items())
        return f"<dl class='args'>{rows}</dl>"
    return f"<div class='text'>{escape(json.dumps(value, ensure_ascii=False))}</div>"


def _model(item: ModelItem) -> str:
    purpose = "model" if item.purpose in ("agent", "final") else item.purpose
    meta = f"{purpose} · {item.tokens_in:,} → {item.tokens_out:,} tokens · {item.seconds:.1f} s · {item.finish}"
    fields = "".join(
        f"<div class='field f-{escape(name)}'><span class='key'>{escape(name)}</span>{value_html(value)}</div>"
        for name, value in item.fields
    )
    return f"<div class='item model'><div class='meta'>{escape(meta)}</div>{fields or '<em>(empty reply)</em>'}</div>"


def _tool(item: ToolItem) -> str:
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in item.arguments.items())
    output = item.output[:MAX_OUTPUT_CHARS]
    more = len(item.output) - len(output)
    rest = f"<div class='more'>… {more:,} more characters in the trace</div>" if more > 0 else ""
    status = " error" if item.is_error else ""
    units = f"{item.units} unit" + ("s" if item.units != 1 else "")
    return (
        f"<div class='item tool{status}'><div class='meta'>{'✗' if item.is_error else '✓'} "
        f"<b>{escape(item.name)}</b>({escape(args)}) · {units} · {item.seconds:.1f} s</div>"
        f"<pre class='output'>{escape(output)}</pre>{rest}</div>"
    )


def bars_html(bars: list[Bar]) -> str:
    """The budget as bars: green, amber past 70 %, red past 90 %."""
    if not bars:
        return "<div class='budget'><span class='none'>no limits</span></div>"
    rows = []
    for bar in bars:
        level = "high" if bar.fraction >= 0.9 else "mid" if bar.fraction >= 0.7 else "low"
        rows.append(
            f"<div class='bar-row'><span class='name'>{escape(bar.name)}</span>"
            f"<span class='bar' title='{escape(bar.label)}'><span class='fill {level}' "
            f"style='width:{bar.fraction * 100:.1f}%'></span></span>"
            f"<span class='label'>{escape(bar.label)}</span></div>"
        )
    return f"<div class='budget'>{''.join(rows)}</div>"


def _step(step: Step) -> str:
    title = "before the first step" if step.number == 0 else f"Step {step.number}"
    if step.final:
        title += " · final answer (no tools)"
    items = "".join(_model(i) if isinstance(i, ModelItem) else _tool(i) for i in step.items)
    return (
        f"<li class='step'><h3>{escape(title)}</h3>{items}"
        f"<div class='after'>budget after this step</div>{bars_html(step.budget)}</li>"
    )


def _limits(limits: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in (limits.get("tools") or {}).items()]
    names = {"total_tokens": "tokens", "input_tokens": "input", "output_tokens": "output"}
    parts += [f"{names.get(k, k)}={v:g}" for k, v in limits.items() if k != "tools" and isinstance(v, int | float)]
    return ", ".join(parts) or "unlimited"


def _result(run: Run) -> str:
    r = run.result
    if r is None:
        return f"<div class='result unfinished'><p class='stop'>{escape(explain_stop(None))}</p></div>"
    answer = r.get("answer")
    usage = r.get("usage") or {}
    tools = ", ".join(f"{k} {v}" for k, v in (usage.get("tool_units") or {}).items()) or "no tools"
    cost = (
        f"{len(run.steps)} steps · {tools} · {usage.get('input_tokens', 0):,} in / "
        f"{usage.get('output_tokens', 0):,} out tokens · ${usd(float(r.get('cost_usd') or 0))} · "
        f"{float(r.get('seconds') or 0):.1f} s"
    )
    shown = escape(str(answer)) if answer is not None else "<em>(no answer)</em>"
    return (
        f"<div class='result {escape(str(r.get('stop_reason')))}'><div class='answer'><span class='key'>answer</span>"
        f"{shown}</div><p class='stop'><b>{escape(str(r.get('stop_reason')))}</b>: {escape(explain_stop(r))}</p>"
        f"<p class='cost'>{escape(cost)}</p></div>"
    )


def run_html(run: Run, heading: str = "") -> str:
    """One run: its question and settings, the timeline of steps, the answer and why it stopped."""
    head = f"<h2>{escape(heading)}</h2>" if heading else ""
    return (
        f"<section class='run'>{head}<div class='question'>{escape(run.question)}</div>"
        f"<div class='settings'>strategy {escape(run.strategy)} · model {escape(run.model)} · "
        f"limits {escape(_limits(run.limits))}</div>"
        f"<ol class='timeline'>{''.join(_step(s) for s in run.steps)}</ol>{_result(run)}</section>"
    )


def runs_html(runs: list[Run]) -> str:
    """All runs of one trace (a chat session has one per turn, a retried eval sample one per attempt)."""
    if not runs:
        return "<p class='empty'>no run in this trace</p>"
    if len(runs) == 1:
        return run_html(runs[0])
    return "".join(run_html(r, f"run {i + 1} of {len(runs)}") for i, r in enumerate(runs))


def traces_body(traces: list[tuple[str, list[Run]]]) -> str:
    """One trace, or two side by side."""
    columns = "".join(
        f"<div class='column'><h2 class='source'>{escape(name)}</h2>{runs_html(runs)}</div>" for name, runs in traces
    )
    return f"<div class='columns n{len(traces)}'>{columns}</div>"
