"""``thrifty view`` without a browser: what the page holds for real traces and eval logs, the chart
geometry (ticks, label placement), the served page, hostile text, and the CLI's errors.
(tests/unit/test_viewer_browser.py checks the same pages in headless Chromium.)"""

from __future__ import annotations

import json
import re
import urllib.request
from itertools import combinations
from pathlib import Path

import pytest

from tests.viewer_data import make_log, make_trace
from thrifty.cli import main
from thrifty.errors import ConfigError
from thrifty.viewer.build import build, serving
from thrifty.viewer.charts import budget_axis
from thrifty.viewer.svg import _overlaps, nice_ticks, place_labels, tick_text
from thrifty.viewer.trajectory import explain_stop, reply_fields


def test_json_protocol_replies_show_as_fields_and_text_protocol_as_its_parts() -> None:
    step = json.dumps({"evidence": "it says 5", "tool": "search", "arguments": {"query": ["x"]}})
    assert reply_fields(step) == [("evidence", "it says 5"), ("action", "search"), ("args", {"query": ["x"]})]
    assert reply_fields('{"think": "done", "answer": "Paris"}') == [("think", "done"), ("answer", "Paris")]
    tagged = 'Let me look.<tool_code>{"name": "search", "arguments": {"query": "x"}}</tool_code>'
    assert reply_fields(tagged) == [("text", "Let me look."), ("action", "search"), ("args", {"query": "x"})]
    assert reply_fields("<think>hmm</think><answer>Lima</answer>", "why") == [
        ("reasoning", "why"),
        ("think", "hmm"),
        ("answer", "Lima"),
    ]
    assert reply_fields("plain words") == [("text", "plain words")]
    assert reply_fields('```json\n{"evidence": "", "answer": "Lima"}\n```') == [("answer", "Lima")]


def test_stop_reasons_are_explained_in_words() -> None:
    early = {"stop_reason": "answered", "exhausted": "tool:search", "detail": None, "error": None}
    assert "because the search budget was running out" in explain_stop(early)
    broke = {"stop_reason": "budget_exhausted", "exhausted": "tokens", "detail": "the prompt alone is ~600 tokens"}
    assert (
        explain_stop(broke)
        == "The token budget ran out before the agent had an answer. The prompt alone is ~600 tokens."
    )
    assert "server returned an error. Error: HTTP 500" in explain_stop({"stop_reason": "error", "error": "HTTP 500"})
    assert "ends before the run finished" in explain_stop(None)


def test_ticks_are_plain_linear_numbers() -> None:
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0, 0.0031) == [0, 0.001, 0.002, 0.003, 0.004]  # the last tick covers the data
    assert nice_ticks(0, 30) == [0, 10, 20, 30]
    assert [tick_text(v) for v in (0, 2, 2.5, 1000, 0.0005)] == ["0", "2", "2.5", "1,000", "0.0005"]


def test_labels_never_overlap_each_other_or_a_point_and_crowded_ones_are_left_out() -> None:
    anchors = [(300.0 + (i % 3), 200.0, f"strategy-{i}@10") for i in range(30)]  # thirty points on one spot
    boxes = place_labels(anchors, (0, 0, 680, 400))
    placed = [b for b in boxes if b is not None]
    assert 3 <= len(placed) < 30
    assert not any(_overlaps(a, b) for a, b in combinations(placed, 2))
    assert all(not _overlaps(b, (x - 6, y - 6, x + 6, y + 6)) for b in placed for x, y, _ in anchors)


def test_the_budget_axis_is_named_by_what_the_budgets_limit() -> None:
    tools = {"3": [{"tools": {"search": 3, "browse": 3}}], "10": [{"tools": {"search": 10, "browse": 10}}]}
    assert budget_axis(tools) == "tool budget (units per tool)"
    particles = {"4": [{"total_tokens": 20000}], "8": [{"total_tokens": 40000}]}  # tool-free: never "tool budget"
    assert budget_axis(particles) == "budget setting (the token limit grows with it)"
    assert budget_axis({"20000": [{"total_tokens": 20000}]}) == "token budget (tokens per task)"


def test_a_trace_page_is_a_timeline_of_fields_tool_calls_and_budget_bars(tmp_path: Path) -> None:
    page = build([make_trace(tmp_path / "run.jsonl")])
    assert page.count("<li class='step'>") == 2 and "budget after this step" in page
    assert "<span class='key'>evidence</span>" in page and "<span class='key'>answer</span>" in page
    assert "{&quot;evidence&quot;" not in page and '{"evidence"' not in page  # no raw JSON replies
    assert "<b>calculator</b>" in page and "402.5" in page and "1 of 3" in page
    assert "The agent answered." in page and "<script src" not in page and "<link" not in page


def test_an_eval_page_names_model_task_file_and_date_and_has_every_sample(tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.jsonl")
    page = build([log])
    title = page.split("<title>")[1].split("</title>")[0]
    assert title.startswith("thrifty evaluation: math.jsonl · model scripted · 20") and title.endswith(" UTC")
    assert page.count("<tr class='sample'") == 12 and page.count("<template id='trajectory-") == 12
    assert "data-filter='strategy'" in page and "data-filter='correct'" in page and "data-filter='stop'" in page
    assert "tool budget (units per tool)" in page and "95% Wilson" in page
    ticks = re.findall(r'<text class="tick x"[^>]*>([^<]*)<', page)
    assert ticks[:2] == ["1", "3"]  # the budgets themselves, on a linear axis (not 2×10⁰)
    assert "id='compare'" in page  # four runs (two strategies × two budgets): any two side by side


def test_hostile_text_is_escaped_everywhere(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "run.jsonl")
    lines = trace.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    records[-1]["result"]["answer"] = "<script>alert(1)</script></template>"
    trace.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    page = build([trace])
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_view_writes_or_serves_the_page_and_bad_files_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, trace = make_log(tmp_path / "log.jsonl"), make_trace(tmp_path / "run.jsonl")
    assert main(["view", str(log), "--out", str(tmp_path / "page.html")]) == 0
    assert "<tr class='sample'" in (tmp_path / "page.html").read_text()
    other = make_trace(tmp_path / "other.jsonl", tool_error=True)
    with serving([trace, other], port=0) as url, urllib.request.urlopen(url, timeout=10) as response:
        served = response.read().decode()
    assert "class='columns n2'" in served and "run.jsonl" in served and "Error: division by zero" in served
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    capsys.readouterr()
    assert main(["view", str(notes), "--html", str(tmp_path / "x.html")]) == 2
    assert "not a thrifty trace or eval log" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not one of each"):
        build([log, trace])


def test_budget_axes_tick_at_the_budgets_on_a_readable_scale() -> None:
    from thrifty.viewer.svg import settings_axis

    linear = settings_axis([3, 10, 3, 10, 20], 0, 500)
    assert linear.ticks() == [3, 10, 20] and not linear.log
    assert linear(3) == 0 and linear(20) == 500 and abs(linear(10) - 500 * 7 / 17) < 1e-9
    wide = settings_axis([1, 10, 100, 1000], 0, 500)
    assert wide.log and [tick_text(t) for t in wide.ticks()] == ["1", "10", "100", "1,000"]
    crowded = settings_axis([1, 2, 3, 25], 0, 500)  # 1, 2 and 3 would print over each other
    assert [tick_text(t) for t in crowded.ticks()] == ["0", "5", "10", "15", "20", "25"]


def test_an_answer_forced_by_a_low_budget_says_which_and_why_once() -> None:
    forced = {
        "stop_reason": "answered",
        "exhausted": "tool:calculator",
        "detail": "answered in a final call: calculator budget is exhausted",
    }
    assert explain_stop(forced) == (
        "The agent answered in a final call without tools, because the calculator budget was running out "
        "(calculator budget is exhausted)."
    )
    stalled = {"stop_reason": "answered", "detail": "answered in a final call: the model stopped making progress"}
    assert explain_stop(stalled).endswith("without tools (the model stopped making progress).")


def test_a_trace_of_several_runs_shows_each_and_a_torn_or_unfinished_one_still_shows(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "session.jsonl")
    second = make_trace(tmp_path / "second.jsonl", tool_error=True).read_text().splitlines()
    with trace.open("a") as f:  # a chat session: one run per turn, the last one cut by a kill
        f.write("\n".join(second[:-1]) + '\n{"type": "ModelCal')
    page = build([trace])
    assert "run 1 of 2" in page and "run 2 of 2" in page
    assert "Error: division by zero" in page and "The trace ends before the run finished" in page


def test_an_errored_sample_is_listed_as_an_error_not_as_wrong(tmp_path: Path) -> None:
    from dataclasses import asdict, replace

    from thrifty.evals.log import load_log

    log = make_log(tmp_path / "log.jsonl")
    sample = load_log(log).samples[0]
    failed = replace(sample, task_id="q9", status="error", error="HTTP 500 from the server", trace=None)
    with log.open("a") as f:
        f.write(json.dumps(asdict(failed)) + "\n")
    page = build([log])
    row = next(r for r in page.split("<tr class='sample' ")[1:] if ">q9<" in r)
    assert "data-correct='error'" in row and "data-stop='error'" in row and "HTTP 500 from the server" in row
    assert "<td>—</td></tr>" in row  # no trace: no trajectory button
