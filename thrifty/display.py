"""Rich terminal views fed by run events. Only this module and the CLI import rich."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from thrifty.agents.events import BudgetCharged, Event, ModelCalled, RunFinished, RunStarted, StepStarted, ToolCalled
from thrifty.agents.result import RunResult
from thrifty.budget import BudgetView, Limits, Usage
from thrifty.terminal import escape_controls
from thrifty.traces import summary


def safe(text: str, style: str = "") -> Text:
    """A rich ``Text`` (never parsed as markup) of untrusted text, control characters escaped."""
    return Text(escape_controls(text), style=style)


def tools_text(usage: Usage) -> str:
    """``browse 1, search 2`` (or ``no tools``), as the cost line and the chat's session line show it."""
    return ", ".join(f"{k} {v}" for k, v in sorted(usage.tool_units.items())) or "no tools"


def limits_text(limits: Limits) -> str:
    """Limits as a budget spec (``search=5,browse=5,tokens=40000,seconds=600``), or ``unlimited``."""
    parts = [f"{k}={v}" for k, v in limits.tools.items()]
    for key, value in (
        ("requests", limits.requests),
        ("tokens", limits.total_tokens),
        ("input", limits.input_tokens),
        ("output", limits.output_tokens),
        ("usd", limits.usd),
        ("seconds", limits.seconds),
    ):
        if value is not None:
            parts.append(f"{key}={value:g}")
    return ",".join(parts) or "unlimited"


def cost_line(result: RunResult) -> str:
    """``[3 steps | search 2, browse 1 | 1,234 in (0 cached) / 210 out tokens | $0.0030 | 9.1s] stop: answered``."""
    u: Usage = result.usage
    tools = tools_text(u)
    return (
        f"[{len(result.steps)} steps | {tools} | {u.input_tokens:,} in ({u.cached_tokens:,} cached) / "
        f"{u.output_tokens:,} out tokens | ${u.cost_usd:.4f} | {result.seconds:.1f}s] stop: {stop_text(result)}"
    )


def stop_text(result: RunResult) -> str:
    """``answered (tokens ran low: …)``, ``budget_exhausted (tool:search)``, ``error: HTTP 500 …``."""
    text: str = result.stop_reason
    if result.exhausted:
        text += f" ({result.exhausted})"
    if result.error:
        text += f": {result.error}"
    if result.detail:
        text += f" — {result.detail}"
    return text


def left_line(result: RunResult) -> str:
    """``left: search 3/5, tokens 31,210/40,000, seconds 588/600`` — every limit in force, or ``no limits``."""
    parts = []
    for name, row in result.budget().items():
        if name == "usd":
            parts.append(f"usd ${row['left']:.4f}/${row['limit']:g}")
        else:
            parts.append(f"{name} {row['left']:,.0f}/{row['limit']:,.0f}")
    return "left: " + (", ".join(parts) if parts else "no limits")


def _short(value: object, n: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _budget_rows(limits: Limits, used: Usage, elapsed: float) -> list[tuple[str, float, float, str]]:
    rows: list[tuple[str, float, float, str]] = [
        (tool, used.tool(tool), limit, f"{used.tool(tool)}/{limit}") for tool, limit in limits.tools.items()
    ]
    for name, limit, spent in (
        ("tokens", limits.total_tokens, used.total_tokens),
        ("input", limits.input_tokens, used.input_tokens),
        ("output", limits.output_tokens, used.output_tokens),
        ("requests", limits.requests, used.requests),
    ):
        if limit is not None:
            rows.append((name, spent, limit, f"{spent:,}/{limit:,}"))
    if limits.usd is not None:
        rows.append(("usd", used.cost_usd, limits.usd, f"${used.cost_usd:.4f}/${limits.usd:g}"))
    if limits.seconds is not None:
        rows.append(("seconds", elapsed, limits.seconds, f"{elapsed:.0f}/{limits.seconds:g}s"))
    return rows


@dataclass
class RunView:
    """Accumulates events into a renderable: steps, tool calls, budget bars, answer and cost line.

    Every string that came from the model, a tool or the question is shown through :func:`safe`.
    """

    show_thoughts: bool = False
    header: Text = field(default_factory=lambda: Text("thrifty"))
    steps: list[list[Text]] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    view: BudgetView | None = None
    result: RunResult | None = None

    @property
    def lines(self) -> list[Text]:
        return [line for step in self.steps for line in step]

    def _add(self, line: Text) -> None:
        if not self.steps:
            self.steps.append([])
        self.steps[-1].append(line)

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted(question=q, strategy=s, model=m, limits=limits):
                self.header = Text.assemble(safe(q), "\n", safe(f"strategy {s} · model {m}", "dim"))
                self.limits = limits
            case StepStarted(step=i, final=final):
                self.steps.append(
                    [Text(f"step {i + 1}" + (" · final answer (no tools)" if final else ""), style="bold")]
                )
            case ModelCalled(completion=c, purpose=p, seconds=secs):
                u = c.usage
                label = "model" if p in ("agent", "final") else p
                text = f"  {label}: {u.input_tokens:,}→{u.output_tokens:,} tok · {secs:.1f}s · {c.finish_reason}"
                self._add(safe(text, "cyan"))
                if self.show_thoughts and c.text.strip():
                    self._add(safe("    " + _short(c.text, 160), "dim"))
            case ToolCalled(call=call, is_error=err, units_granted=g, output=out):
                mark, style = ("✗", "red") if err else ("✓", "green")
                self._add(safe(f"  {mark} {call.name} {_short(dict(call.arguments))} [{g} unit(s)]", style))
                if err:
                    self._add(safe("    " + _short(out, 140), "red"))
            case BudgetCharged(view=view):
                self.view = view
            case RunFinished(result=result):
                self.result = result

    def _bars(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        used, elapsed = (self.view.used, self.view.elapsed_seconds) if self.view else (Usage(), 0.0)
        for name, spent, limit, label in _budget_rows(self.limits, used, elapsed):
            frac = spent / limit if limit else 1.0
            style = "red" if frac >= 0.9 else "yellow" if frac >= 0.7 else "green"
            bar = ProgressBar(total=max(limit, 1e-9), completed=min(spent, limit), width=30, complete_style=style)
            table.add_row(name, bar, label)
        if not self.limits.tools and self.limits.is_unlimited:
            table.add_row("no limits")
        return table

    def collapsed(self) -> Group:
        """One dim line per step (what stays on screen in chat after a turn)."""
        joint = Text(" · ", style="dim")
        return Group(*(joint.join(Text(t.plain.strip(), style=t.style) for t in step) for step in self.steps if step))

    def __rich__(self) -> RenderableType:
        parts: list[RenderableType] = [Panel(self.header, title="question", expand=True)]
        parts.extend(self.lines[-30:])
        parts.append(Panel(self._bars(), title="budget"))
        if self.result is not None:
            parts.extend(result_parts(self.result))
        return Group(*parts)


def result_parts(result: RunResult) -> list[RenderableType]:
    """The answer panel, the cost line and what was left of each limit."""
    answer = result.answer if result.answer is not None else "(no answer)"
    return [
        Panel(safe(answer, "bold"), title="answer"),
        safe(cost_line(result), "dim"),
        Text(left_line(result), style="dim"),
    ]


def print_result(console: Console, result: RunResult) -> None:
    for part in result_parts(result):
        console.print(part)


def trace_tree(records: list[dict[str, Any]]) -> Tree:
    """A trace as a tree: the run, its steps, and each step's model and tool calls. A trace of several
    runs (a chat session) gets one branch per run."""
    root = Tree(Text("trace", style="bold"))
    run: Tree = root
    step: Tree = root
    runs = sum(1 for r in records if r.get("type") == "RunStarted")
    for record in records:
        kind = record.get("type")
        if kind in ("TraceStarted", "BudgetCharged"):
            continue
        line = safe(summary(record), "red" if record.get("is_error") else "")
        if kind == "RunStarted":
            if runs == 1:
                root.label = safe(summary(record), "bold")
            else:
                run = root.add(safe(summary(record), "bold"))
            step = run
        elif kind == "StepStarted":
            step = run.add(safe(summary(record), "cyan"))
        elif kind == "RunFinished":
            run.add(safe(summary(record), "bold green"))
        else:
            step.add(line)
    return root
