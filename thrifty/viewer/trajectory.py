"""A trace's records as runs of steps: what each model call said (as fields), each tool call, the
budget after each step and why the run stopped, in words.

A trace holds one run (``ask``), a run per turn (a chat session) or one per attempt (an eval sample
retried); records come as :func:`thrifty.traces.event_record` wrote them. Unknown or partial records
(a trace cut by a kill) are skipped, never fatal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from thrifty import safejson

_FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)
_TAGS = re.compile(r"<(think|tool_code|answer)>(.*?)(?:</\1>|$)", re.DOTALL)
FIELD_NAMES = {"evidence": "evidence", "think": "think", "thought": "think", "tool": "action", "arguments": "args"}


@dataclass(frozen=True)
class Bar:
    """One limit after a step: ``used`` of ``limit`` (``label`` as people read it)."""

    name: str
    used: float
    limit: float
    label: str

    @property
    def fraction(self) -> float:
        return min(1.0, self.used / self.limit) if self.limit > 0 else 1.0


@dataclass
class ModelItem:
    purpose: str
    fields: list[tuple[str, Any]]
    tokens_in: int
    tokens_out: int
    seconds: float
    finish: str


@dataclass
class ToolItem:
    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool
    units: int
    seconds: float


@dataclass
class Step:
    number: int
    """1-based; 0 holds what ran before the first model step (e.g. an opening search)."""
    final: bool = False
    items: list[ModelItem | ToolItem] = field(default_factory=list)
    budget: list[Bar] = field(default_factory=list)


@dataclass
class Run:
    question: str
    strategy: str
    model: str
    limits: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    result: dict[str, Any] | None = None


def reply_fields(text: str, reasoning: str | None = None) -> list[tuple[str, Any]]:
    """A model reply as labelled fields: a JSON-protocol step's ``evidence/think``, ``action``,
    ``args`` and ``answer``; a text-protocol reply's prose, ``<think>``, ``<tool_code>`` call and
    ``<answer>``; anything else as its text."""
    out: list[tuple[str, Any]] = [("reasoning", reasoning)] if reasoning and reasoning.strip() else []
    stripped = text.strip()
    fenced = _FENCED.fullmatch(stripped)
    if fenced:  # a JSON object in a code fence reads as one too
        stripped = fenced.group(1)
    if stripped.startswith("{"):
        try:
            obj, _ = safejson.raw_decode(stripped, 0)
        except (ValueError, safejson.JSONLimitError):
            obj = None
        if isinstance(obj, dict):
            return out + [(FIELD_NAMES.get(str(k), str(k)), v) for k, v in obj.items() if v != ""]
    pos = 0
    for match in _TAGS.finditer(text):
        prose = text[pos : match.start()].strip()
        if prose:
            out.append(("text", prose))
        tag, body = match.group(1), match.group(2).strip()
        if tag == "tool_code":
            out += _call_fields(body)
        else:
            out.append((tag, body))
        pos = match.end()
    rest = text[pos:].strip()
    if rest:
        out.append(("text", rest))
    return out


def _call_fields(body: str) -> list[tuple[str, Any]]:
    try:
        call = json.loads(body)
    except ValueError:
        return [("action", body)]
    if isinstance(call, dict) and "name" in call:
        return [("action", call["name"]), ("args", call.get("arguments", {}))]
    return [("action", body)]


def bars(view: dict[str, Any]) -> list[Bar]:
    """The budget bars of a ledger view record: every limit in force, used against its limit."""
    limits, used = view.get("limits") or {}, view.get("used") or {}
    out = [
        Bar(tool, float((used.get("tool_units") or {}).get(tool, 0)), float(limit), "")
        for tool, limit in (limits.get("tools") or {}).items()
    ]
    spent = {
        "tokens": (used.get("input_tokens", 0) + used.get("output_tokens", 0), limits.get("total_tokens")),
        "input": (used.get("input_tokens", 0), limits.get("input_tokens")),
        "output": (used.get("output_tokens", 0), limits.get("output_tokens")),
        "requests": (used.get("requests", 0), limits.get("requests")),
        "usd": (used.get("cost_usd", 0.0), limits.get("usd")),
        "seconds": (view.get("elapsed_seconds", 0.0), limits.get("seconds")),
    }
    out += [Bar(name, float(value), float(limit), "") for name, (value, limit) in spent.items() if limit is not None]
    return [Bar(b.name, b.used, b.limit, _bar_label(b)) for b in out]


def _bar_label(bar: Bar) -> str:
    if bar.name == "usd":
        return f"${bar.used:.4g} of ${bar.limit:g}"
    if bar.name == "seconds":
        return f"{bar.used:.1f} of {bar.limit:g} s"
    return f"{bar.used:,.0f} of {bar.limit:,.0f}"


def runs_of(records: Iterable[dict[str, Any]]) -> list[Run]:
    """The runs of a trace, in order; events before any ``RunStarted`` are ignored."""
    runs: list[Run] = []
    for record in records:
        kind = record.get("type")
        try:
            if kind == "RunStarted":
                runs.append(
                    Run(str(record["question"]), str(record["strategy"]), str(record["model"]), record["limits"])
                )
                runs[-1].steps.append(Step(0))
            elif runs:
                _add(runs[-1], kind, record)
        except (KeyError, TypeError, AttributeError):
            continue  # a partial or foreign record: the rest of the trace still shows
    for run in runs:
        run.steps = [s for s in run.steps if s.items or s.number > 0]
    return runs


def _add(run: Run, kind: object, record: dict[str, Any]) -> None:
    step = run.steps[-1]
    if kind == "StepStarted":
        run.steps.append(Step(int(record["step"]) + 1, bool(record.get("final")), budget=step.budget))
    elif kind == "ModelCalled":
        c, usage = record["completion"], record["completion"].get("usage") or {}
        fields = reply_fields(c.get("text") or "", c.get("reasoning"))
        fields += [("action", tc["name"]) for tc in c.get("tool_calls") or [] if isinstance(tc, dict)]
        step.items.append(
            ModelItem(
                str(record.get("purpose", "agent")),
                fields,
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                float(record.get("seconds", 0.0)),
                str(c.get("finish_reason", "")),
            )
        )
    elif kind == "ToolCalled":
        call = record["call"]
        args = call.get("arguments")
        step.items.append(
            ToolItem(
                str(call["name"]),
                args if isinstance(args, dict) else {"input": args},
                str(record.get("output", "")),
                bool(record.get("is_error")),
                int(record.get("units_granted", 0)),
                float(record.get("seconds", 0.0)),
            )
        )
    elif kind == "BudgetCharged":
        step.budget = bars(record["view"])
    elif kind == "RunFinished":
        run.result = record["result"]


_STOPS = {
    "answered": "The agent answered.",
    "budget_exhausted": "The budget ran out before the agent had an answer.",
    "stalled": "Budget remained, but the model stopped making progress (step cap or repeated calls) "
    "and gave no answer.",
    "error": "The run failed: the model server returned an error.",
    "cancelled": "The run was cancelled by its caller before it finished.",
}


def limit_words(exhausted: str) -> str:
    """``tool:search`` → ``the search budget``; ``tokens`` → ``the token budget``."""
    if exhausted.startswith("tool:"):
        return f"the {exhausted[5:]} budget"
    names = {
        "tokens": "token",
        "input_tokens": "input-token",
        "output_tokens": "output-token",
        "usd": "dollar",
        "seconds": "time",
        "requests": "request",
    }
    return f"the {names.get(exhausted, exhausted)} budget"


def explain_stop(result: dict[str, Any] | None) -> str:
    """Why a run stopped, as a sentence or two (``stop_reason``, ``exhausted``, ``detail``, ``error``)."""
    if result is None:
        return "The trace ends before the run finished (the process was stopped, or it is still running)."
    reason = str(result.get("stop_reason", ""))
    text = _STOPS.get(reason, f"Stopped: {reason}.")
    exhausted, detail, error = result.get("exhausted"), str(result.get("detail") or ""), result.get("error")
    if reason == "answered" and (exhausted or detail):
        why = detail.removeprefix("answered in a final call: ")  # as thrifty.agents.agent.truthful words it
        text = "The agent answered in a final call without tools"
        text += f", because {limit_words(exhausted)} was running out" if exhausted else ""
        text += f" ({why})." if why else "."
    elif exhausted:
        text = f"{limit_words(exhausted).capitalize()} ran out before the agent had an answer."
    if detail and reason != "answered":
        text += f" {detail[:1].upper()}{detail[1:]}."
    if error:
        text += f" Error: {error}"
    return text.replace("..", ".")
