"""The viewer's pages in a real headless browser: the system Chromium (Debian: ``apt-get install
chromium``; ``.ci/run`` installs it) driven by Playwright, one browser for the module.

Without Chromium or Playwright these tests skip, except under ``THRIFTY_REQUIRE_LIVE=1`` (CI), where
that is a failure, as for the live model tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.viewer_data import make_log, make_trace
from thrifty.viewer.build import build


def _chromium() -> str:
    path = os.environ.get("THRIFTY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    reason = "" if path else "no chromium on PATH (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = 'playwright is not installed (pip install -e ".[dev]")'
    if reason:
        if os.environ.get("THRIFTY_REQUIRE_LIVE") == "1":
            pytest.fail(f"the browser tests need a browser: {reason}")
        pytest.skip(reason)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


@pytest.fixture(scope="module")
def files(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The traces and logs, made before the browser starts (Playwright's sync API holds the event
    loop the runs need)."""
    folder = tmp_path_factory.mktemp("viewer")
    return {
        "trace": make_trace(folder / "a.jsonl"),
        "trace-error": make_trace(folder / "b.jsonl", tool_error=True),
        "log": make_log(folder / "one" / "log.jsonl"),
        "other-log": make_log(folder / "two" / "log.jsonl", wrong=frozenset({"q1", "q3"}), model="other"),
    }


@pytest.fixture(scope="module")
def browser(chromium: str, files: dict[str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """Open a built page from a file (as a user opens ``--html`` output) in a fresh browser page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def go(paths: list[Path]) -> Any:
        html = tmp_path / "page.html"
        html.write_text(build(paths), encoding="utf-8")
        tab.goto(html.as_uri())
        return tab

    yield go
    context.close()
    assert errors == []  # the page's script ran without an error


def screenshot(tab: Any, path: Path) -> None:
    tab.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # a blank page is a few kB


def boxes(tab: Any, selector: str) -> list[tuple[float, float, float, float]]:
    return [
        (b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])
        for b in map(lambda h: h.bounding_box(), tab.query_selector_all(selector))
        if b
    ]


def overlapping(found: list[tuple[float, float, float, float]]) -> list[tuple[Any, Any]]:
    return [(a, b) for a, b in combinations(found, 2) if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


def test_a_run_is_a_timeline_with_fields_tool_output_and_budget_bars(
    open_page: Any, files: dict[str, Path], tmp_path: Path
) -> None:
    tab = open_page([files["trace"], files["trace-error"]])
    assert tab.locator(".column").count() == 2  # two runs side by side
    first = tab.locator(".column").nth(0)
    assert first.locator("li.step").count() == 2
    assert first.locator(".f-evidence .text").first.inner_text() == "I need to compute it."
    assert first.locator(".f-action .text").first.inner_text() == "calculator"
    assert first.locator(".f-answer .text").inner_text() == "402.5"
    assert "{" not in first.locator(".item.model").first.inner_text()  # fields, not raw JSON
    assert first.locator(".item.tool pre.output").inner_text() == "402.5"
    bars = first.locator("li.step").first.locator(".bar-row")
    assert bars.count() == 2 and bars.nth(0).locator(".label").inner_text() == "1 of 3"
    width = bars.nth(0).locator(".fill").bounding_box()["width"]
    track = bars.nth(0).locator(".bar").bounding_box()["width"]
    assert abs(width / track - 1 / 3) < 0.02  # the bar is drawn to scale
    assert first.locator(".result .stop").inner_text() == "answered: The agent answered."
    assert tab.locator(".column").nth(1).locator(".item.tool.error").count() == 1
    screenshot(tab, tmp_path / "run.png")


def test_an_eval_log_filters_opens_trajectories_and_draws_readable_charts(
    open_page: Any, files: dict[str, Path], tmp_path: Path
) -> None:
    tab = open_page([files["log"]])
    assert "math.jsonl · model scripted" in tab.title()
    rows = tab.locator("tr.sample")
    assert rows.count() == 12 and tab.locator(".filters .count").inner_text() == "12 of 12 samples"
    tab.select_option("select[data-filter='correct']", "no")
    assert tab.locator("tr.sample:visible").count() == 4  # q3 is wrong in each of the four runs
    tab.select_option("select[data-filter='strategy']", "react")
    assert tab.locator("tr.sample:visible").count() == 2
    assert tab.locator(".filters .count").inner_text() == "2 of 12 samples"
    tab.locator("tr.sample:visible button.open").first.click()
    panel = tab.locator("dialog#panel")
    assert panel.is_visible() and panel.locator("li.step").count() == 2
    assert panel.locator(".f-answer .text").inner_text() == "0"  # the wrong answer's trajectory
    screenshot(tab, tmp_path / "trajectory.png")
    panel.locator("button.close").click()
    assert not panel.is_visible()

    charts = tab.locator("figure.chart")
    assert charts.count() == 2
    accuracy = charts.nth(0)
    assert accuracy.locator("text.axis-label.x").text_content() == "tool budget (units per tool)"
    assert [t.text_content() for t in accuracy.locator("text.tick.x").all()] == ["1", "3"]  # the budgets
    assert accuracy.locator("g.series").count() == 2  # react and tracker: equal values, both drawn
    marks = boxes(tab, "figure.chart.accuracy g.series .mark")
    assert len(marks) == 4 and len({round(m[0]) for m in marks}) == 4  # side by side, not on top of each other
    labels = boxes(tab, "figure.chart.cost text.point-label")
    assert labels and overlapping(labels) == []
    assert overlapping(labels + boxes(tab, "figure.chart.cost text.tick")) == []
    assert len(boxes(tab, "figure.chart.cost .mark")) == 4
    screenshot(tab, tmp_path / "eval.png")


def test_two_logs_side_by_side(open_page: Any, files: dict[str, Path], tmp_path: Path) -> None:
    tab = open_page([files["log"], files["other-log"]])
    assert "model other, scripted" in tab.title()
    pairs = tab.locator("table.compare tr.pair")
    assert pairs.count() == 3
    assert tab.locator(".compare-summary").inner_text() == "3 tasks · both right 1 · only A right 1 · only B right 0"
    pairs.nth(0).locator("button.open-pair").click()
    panel = tab.locator("dialog#panel")
    assert panel.locator(".column").count() == 2
    headings = [h.inner_text() for h in panel.locator("h2.source").all()]
    assert headings[0].startswith("one/log.jsonl: ") and headings[1].startswith("two/log.jsonl: ")
    answers = [a.inner_text() for a in panel.locator(".f-answer .text").all()]
    assert answers == ["402.5", "0"]  # q1: right in the first log, wrong in the second
    screenshot(tab, tmp_path / "compare.png")
