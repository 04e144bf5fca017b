"""Accuracy-vs-budget curves, a cost/accuracy Pareto plot, and a self-contained HTML report.

matplotlib is optional (``pip install "thrifty[evals]"``) and imported only here, with the
non-interactive Agg backend.
"""

from __future__ import annotations

import html
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

from thrifty.evals.report import Row, markdown


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError('plots need matplotlib: pip install "thrifty[evals]"') from None
    return plt


def _budget_value(label: str) -> float:
    try:
        return float(label)
    except ValueError:
        return float("nan")


def accuracy_vs_budget(rows: list[Row]) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    by_strategy: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_strategy[r.strategy].append(r)
    for strategy, group in sorted(by_strategy.items()):
        group.sort(key=lambda r: _budget_value(r.budget))
        xs = [_budget_value(r.budget) for r in group]
        ys = [r.accuracy for r in group]
        errors = [[r.accuracy - r.ci_low for r in group], [r.ci_high - r.accuracy for r in group]]
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=strategy)
    ax.set_xscale("log")
    ax.set_xlabel("tool budget (units per tool)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Accuracy vs budget (95% Wilson CI)")
    ax.legend()
    fig.tight_layout()
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated by a cheaper-or-equal, more-accurate one, sorted by cost."""
    front: list[tuple[float, float]] = []
    for cost, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or acc > front[-1][1]:
            front.append((cost, acc))
    return front


def cost_pareto(rows: list[Row], *, cost: str = "mean_tokens") -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.scatter(getattr(r, cost), r.accuracy)
        ax.annotate(f"{r.strategy}@{r.budget}", (getattr(r, cost), r.accuracy), fontsize=7)
    front = pareto_front([(getattr(r, cost), r.accuracy) for r in rows])
    ax.plot([p[0] for p in front], [p[1] for p in front], linestyle="--", color="grey", label="Pareto front")
    ax.set_xlabel({"mean_tokens": "tokens per task", "mean_cost_usd": "$ per task"}.get(cost, cost))
    ax.set_ylabel("accuracy")
    ax.set_title("Cost vs accuracy")
    ax.legend()
    fig.tight_layout()
    return fig


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    return buffer.getvalue()


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def _plots(rows: list[Row], directory: Path) -> tuple[list[Path], list[str]]:
    """The plots as PNG and SVG files (and SVG text to inline); none without matplotlib."""
    try:
        plt = _pyplot()
    except RuntimeError:
        return [], []
    written: list[Path] = []
    svgs = []
    for name, fig in (("accuracy_vs_budget", accuracy_vs_budget(rows)), ("pareto", cost_pareto(rows))):
        for ext in ("png", "svg"):
            path = directory / f"{name}.{ext}"
            fig.savefig(path, dpi=120)
            written.append(path)
        svgs.append(_svg(fig))
        plt.close(fig)
    return written, svgs


PLOTS_SKIPPED = 'plots skipped: matplotlib is not installed (pip install "thrifty[evals]")'


def write_report(rows: list[Row], directory: Path, *, title: str = "thrifty evaluation") -> list[Path]:
    """report.md, report.html (plots inlined as SVG) and the plots as PNG and SVG files.

    Without matplotlib the report is still written, with a note where the plots would be: an
    evaluation that ran for hours must never end without its report.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written, svgs = _plots(rows, directory)
    table = markdown(rows)
    figures = "![](accuracy_vs_budget.png)\n\n![](pareto.png)" if svgs else f"_{PLOTS_SKIPPED}_"
    (directory / "report.md").write_text(f"# {title}\n\n{table}\n\n{figures}\n", encoding="utf-8")
    header, _, *body = table.splitlines()
    html_rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(line)) + "</tr>" for line in body)
    html_head = "".join(f"<th>{html.escape(c)}</th>" for c in _cells(header))
    plots = "".join(svgs) or f"<p><em>{html.escape(PLOTS_SKIPPED)}</em></p>"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table><tr>{html_head}</tr>{html_rows}</table>{plots}</body></html>"
    )
    (directory / "report.html").write_text(page, encoding="utf-8")
    written += [directory / "report.md", directory / "report.html"]
    return written
