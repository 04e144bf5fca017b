"""The eval report as files: report.md (the table), report.html (the same page ``thrifty view LOG``
shows: summary, charts, samples and their trajectories) and the two charts as SVG files.

The charts are SVG drawn by :mod:`thrifty.viewer.svg`, so a report needs no plotting library.
"""

from __future__ import annotations

from pathlib import Path

from thrifty.evals.log import EvalLog
from thrifty.evals.report import Row, markdown
from thrifty.viewer.charts import accuracy_chart, budget_axis, cost_chart
from thrifty.viewer.evalpage import LogSource, eval_page


def _standalone(figure: str) -> str:
    """The ``<svg>`` element of a chart figure, as a file of its own."""
    return figure[figure.index("<svg") : figure.index("</svg>") + len("</svg>")] + "\n"


def write_report(
    rows: list[Row],
    directory: Path,
    *,
    title: str = "thrifty evaluation",
    log: EvalLog | None = None,
    log_folder: Path | None = None,
) -> list[Path]:
    """report.md, report.html and accuracy_vs_budget.svg, pareto.svg in ``directory``.

    With the ``log`` the rows came from, the page also lists every sample (filterable) and, with
    ``log_folder`` (where the log's traces are), each sample's trajectory; the budget axis is named
    from the runs' limits.
    """
    directory.mkdir(parents=True, exist_ok=True)
    limits: dict[str, list[dict[str, object]]] = {}
    for header in log.headers.values() if log else []:
        limits.setdefault(header.budget, []).append(header.limits)
    charts = {
        "accuracy_vs_budget.svg": accuracy_chart(rows, budget_axis(limits) if limits else "budget setting"),
        "pareto.svg": cost_chart(rows),
    }
    written = []
    for name, figure in charts.items():
        (directory / name).write_text(_standalone(figure), encoding="utf-8")
        written.append(directory / name)
    figures = "![accuracy vs budget](accuracy_vs_budget.svg)\n\n![cost vs accuracy](pareto.svg)"
    (directory / "report.md").write_text(f"# {title}\n\n{markdown(rows)}\n\n{figures}\n", encoding="utf-8")
    source = LogSource("log", log or EvalLog(), log_folder)
    (directory / "report.html").write_text(eval_page([source], rows, title), encoding="utf-8")
    return [*written, directory / "report.md", directory / "report.html"]
