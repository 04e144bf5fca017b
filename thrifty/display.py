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
from thrifty.budget import BudgetView, Usage
from thrifty.traces import summary


def tools_text(usage: Usage) -> str:
    """``browse 1, search 2`` (or ``no tools``), as the cost line and the chat's session line show it."""
    return ", ".join(f"{k} {v}" for k, v in sorted(usage.tool_units.items())) or "no tools"


def cost_line(result: RunResult) -> str:
    """``[3 steps | search 2, browse 1 | 1,234 in (0 cached) / 210 out tokens | $0.0030 | 9.1s] stop: answered``."""
    u: Usage = result.usage
    tools = tools_text(u)
    stop = result.stop_reason + (f" ({result.exhausted})" if result.exhausted else "")
    return (
        f"[{len(result.steps)} steps | {tools} | {u.input_tokens:,} in ({u.cached_tokens:,} cached) / "
        f"{u.output_tokens:,} out tokens | ${u.cost_usd:.4f} | {result.seconds:.1f}s] stop: {stop}"
    )


def _short(value: object, n: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _budget_rows(view: BudgetView) -> list[tuple[str, float, float, str]]:
    rows: list[tuple[str, float, float, str]] = []
    for tool, limit in view.limits.tools.items():
        rows.append((tool, view.used.tool(tool), limit, f"{view.used.tool(tool)}/{limit}"))
    lim = view.limits
    if lim.total_tokens is not None:
        rows.append(
            ("tokens", view.used.total_tokens, lim.total_tokens, f"{view.used.total_tokens:,}/{lim.total_tokens:,}")
        )
    if lim.output_tokens is not None:
        rows.append(
            ("output", view.used.output_tokens, lim.output_tokens, f"{view.used.output_tokens:,}/{lim.output_tokens:,}")
        )
    if lim.requests is not None:
        rows.append(("requests", view.used.requests, lim.requests, f"{view.used.requests}/{lim.requests}"))
    if lim.usd is not None:
        rows.append(("usd", view.used.cost_usd, lim.usd, f"${view.used.cost_usd:.4f}/${lim.usd:g}"))
    if lim.seconds is not None:
        rows.append(("seconds", view.elapsed_seconds, lim.seconds, f"{view.elapsed_seconds:.0f}/{lim.seconds:g}s"))
    return rows


@dataclass
class RunView:
    """Accumulates events into a renderable: steps, tool calls, budget bars, answer and cost line."""

    show_thoughts: bool = False
    header: str = ""
    lines: list[Text] = field(default_factory=list)
    view: BudgetView | None = None
    result: RunResult | None = None

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted(question=q, strategy=s, model=m):
                self.header = f"{q}\n[dim]strategy {s} · model {m}[/dim]"
            case StepStarted(step=i, final=final):
                self.lines.append(Text(f"step {i + 1}" + (" · final answer (no tools)" if final else ""), style="bold"))
            case ModelCalled(completion=c, purpose=p, seconds=secs):
                u = c.usage
                label = "model" if p in ("agent", "final") else p
                self.lines.append(
                    Text(
                        f"  {label}: {u.input_tokens:,}→{u.output_tokens:,} tok · {secs:.1f}s · {c.finish_reason}",
                        style="cyan",
                    )
                )
                if self.show_thoughts and c.text.strip():
                    self.lines.append(Text("    " + _short(c.text, 160), style="dim"))
            case ToolCalled(call=call, is_error=err, units_granted=g, output=out):
                mark = "✗" if err else "✓"
                style = "red" if err else "green"
                self.lines.append(
                    Text(f"  {mark} {call.name} {_short(dict(call.arguments))} [{g} unit(s)]", style=style)
                )
                if err:
                    self.lines.append(Text("    " + _short(out, 140), style="red"))
            case BudgetCharged(view=view):
                self.view = view
            case RunFinished(result=result):
                self.result = result

    def _bars(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        if self.view is None:
            return table
        for name, used, limit, label in _budget_rows(self.view):
            frac = used / limit if limit else 1.0
            style = "red" if frac >= 0.9 else "yellow" if frac >= 0.7 else "green"
            table.add_row(name, ProgressBar(total=max(limit, 1e-9), completed=min(used, limit), width=30,
                                            complete_style=style), label)  # fmt: skip
        return table

    def __rich__(self) -> RenderableType:
        parts: list[RenderableType] = [Panel(self.header or "thrifty", title="question", expand=True)]
        parts.extend(self.lines[-30:])
        parts.append(Panel(self._bars(), title="budget"))
        if self.result is not None:
            answer = self.result.answer if self.result.answer is not None else "(no answer)"
            parts.append(Panel(Text(answer, style="bold"), title="answer"))
            parts.append(Text(cost_line(self.result), style="dim"))
        return Group(*parts)


def print_result(console: Console, result: RunResult) -> None:
    answer = result.answer if result.answer is not None else "(no answer)"
    console.print(Panel(Text(answer, style="bold"), title="answer"))
    console.print(Text(cost_line(result), style="dim"))


def trace_tree(records: list[dict[str, Any]]) -> Tree:
    """A trace as a tree: the run, its steps, and each step's model and tool calls."""
    root = Tree(Text("trace", style="bold"))
    step: Tree = root
    for record in records:
        kind = record.get("type")
        if kind in ("TraceStarted", "BudgetCharged"):
            continue
        line = Text(summary(record), style="red" if record.get("is_error") else "")
        if kind == "RunStarted":
            root.label = Text(summary(record), style="bold")
        elif kind == "StepStarted":
            step = root.add(Text(summary(record), style="cyan"))
        elif kind == "RunFinished":
            root.add(Text(summary(record), style="bold green"))
        else:
            step.add(line)
    return root
