"""The ``thrifty`` command driven as a user drives it, on a scripted backend and a small real index.

Bad input: one line on stderr naming the flag, exit code 2, no traceback, nothing created.
Runs: the documented exit codes, every limit shown, control characters escaped.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from tests.helpers import CliRun, one_line_error, scripted_cli, small_index
from thrifty.backends.openai_compat import map_openai_error
from thrifty.cli.run import EXIT_CODES
from thrifty.errors import BackendConnectionError
from thrifty.evals.datasets import encrypt
from thrifty.traces import read_trace


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return small_index(tmp_path).path


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return scripted_cli(monkeypatch, tmp_path, capsys)


BAD_INPUTS = [
    (["eval", "missing.jsonl"], ["tasks", "missing.jsonl"]),
    (["eval", "{bad}"], ["tasks", "not JSON"]),
    (["eval", "{tasks}", "--budgets", "two"], ["--budgets", "two"]),
    (["eval", "{tasks}", "--budgets", "a,b"], ["--budgets"]),
    (["eval", "{tasks}", "--limit", "-1"], ["--limit"]),
    (["eval", "{tasks}", "--concurrency", "-1"], ["--concurrency"]),
    (["eval", "{tasks}", "--concurrency", "0"], ["--concurrency", "at least 1"]),
    (["eval", "{tasks}", "--log", "."], ["--log", "folder"]),
    (["eval", "{tasks}", "--report-dir", "nowhere/deeper/report"], ["--report-dir", "does not exist"]),
    (["eval", "{tasks}", "--temperature", "nan"], ["--temperature"]),
    (["eval", "{tasks}", "--strategies", "react,trackr"], ["--strategies", "trackr"]),
    (["eval", "{tasks}", "--extra-budget", "tokns=5"], ["--extra-budget", "tokns", "did you mean 'tokens'"]),
    (["eval", "{unknown_field}"], ["tasks", "unknown field", "colour"]),
    (["ask", "q", "--max-step-tokens", "-1"], ["--max-step-tokens"]),
    (["ask", "q", "--temperature", "-5"], ["--temperature", "between 0 and 2"]),
    (["ask", "q", "--temperature", "nan"], ["--temperature"]),
    (["ask", "q", "--budget", "tokens=١٢٣٤"], ["--budget", "tokens"]),
    (["ask", "q", "--seed", "١"], ["--seed"]),
    (["ask", "q", "--budget", "tokns=5000"], ["--budget", "tokns", "did you mean 'tokens'"]),
    (["ask", "q", "--budget", "serch=1"], ["--budget", "serch", "did you mean 'search'"]),
    (["ask", "q", "--no-tools", "--budget", "search=1"], ["--budget", "search", "no tools are offered"]),
    (["ask", "q", "--index", "nope.sqlite"], ["--index", "nope.sqlite"]),
    (["ask", "q", "--strategy", "trackr"], ["--strategy", "trackr"]),
    (["ask", "q", "--budgte", "x"], ["--budgte", "did you mean '--budget'"]),
    (["ask", "q", "--trace", "nowhere/t.jsonl"], ["--trace", "does not exist"]),
    (["ak", "q"], ["'ak'", "did you mean 'ask'"]),
    (["view", "/etc/passwd"], ["not a thrifty trace"]),
    (["view", "{bad}", "--html", "nowhere/x.html"], ["--html", "does not exist"]),
    (["web", "serve", "--port", "99999"], ["--port"]),
    (["serve", "--port", "0"], ["--port"]),
    (["tasks", "generate", "-o", "nowhere/t.jsonl"], ["--output", "does not exist"]),
    (["tasks", "generate", "-o", "t.jsonl", "--n", "-3"], ["--n"]),
    (["index", "build", "--jsonl", "{bad}"], ["--path"]),
    (["index", "build", "--jsonl", "{bad}", "--path", "i.sqlite"], ["--jsonl"]),
    (["ask", "q", "--config", "missing.toml"], ["--config", "missing.toml"]),
    (["eval", "{browsecomp}"], ["tasks", "does not decrypt"]),
]


@pytest.mark.parametrize(("argv", "names"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_naming_the_flag_with_exit_code_2(
    cli: CliRun, tmp_path: Path, argv: list[str], names: list[str]
) -> None:
    files = {"bad": tmp_path / "bad.jsonl", "tasks": tmp_path / "tasks.jsonl", "unknown_field": tmp_path / "u.jsonl"}
    files["bad"].write_text("not json\n")
    files["tasks"].write_text('{"question": "Capital of France?", "answer": "Paris"}\n')
    task = {"id": "t", "question": "q", "answer": "a", "type": "x", "evidence_urls": [], "colour": "red"}
    files["unknown_field"].write_text(json.dumps(task) + "\n")
    files["browsecomp"] = tmp_path / "bc.csv"
    wrong = encrypt("What?", "another canary")
    files["browsecomp"].write_text(f"problem,answer,canary\n{wrong},{encrypt('x', 'c')},the canary\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = cli([], *(a.format(**{k: str(v) for k, v in files.items()}) for a in argv))
    assert code == 2, (out, err)
    one_line_error(err, *names)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == before  # nothing created


def test_a_busy_port_is_aone_line_error(cli: CliRun, index_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = cli([], "web", "serve", "--port", str(port), "--index", str(index_path))
    assert code == 2
    one_line_error(err, "--port", "in use")


def test_version_help_defaults_and_global_options_after_the_subcommand(cli: CliRun, tmp_path: Path) -> None:
    code, out, _ = cli([], "--version")
    assert code == 0 and out.startswith("thrifty ")
    code, out, _ = cli([], "ask", "--help")
    assert code == 0
    assert "default: tracker" in out and "(default: 768)" in out and "search=5,browse=5" in out
    _, out, _ = cli([], "eval", "--help")
    assert "eval-log.jsonl in the current folder" in out and "(default: 2)" in out
    _, out, _ = cli([], "--help")
    assert "exit codes" in out and "3 budget exhausted" in out
    config = tmp_path / "config.toml"
    config.write_text('strategy = "nonsense"\n')
    for argv in (["--config", str(config), "ask", "q"], ["ask", "q", "--config", str(config)]):
        code, _, err = cli([], *argv)
        assert code == 2
        one_line_error(err, "strategy", "config.toml")


def test_the_budget_adds_to_the_defaults_and_every_limit_is_reported(cli: CliRun, index_path: Path) -> None:
    code, out, _ = cli(
        ["<answer>Paris</answer>"],
        "ask",
        "q",
        "--index",
        str(index_path),
        "--json",
        "--budget",
        "search=1,seconds=none,usd=1",
    )
    result = json.loads(out)
    assert code == 0 and result["stop_reason"] == "answered"
    budget = result["budget"]
    assert set(budget) == {"search", "browse", "tokens", "usd"}  # defaults kept, seconds lifted, usd added
    assert budget["search"]["limit"] == 1 and budget["browse"]["limit"] == 5 and budget["tokens"]["limit"] == 40000
    assert budget["tokens"]["used"] == result["usage"]["input_tokens"] + result["usage"]["output_tokens"]
    assert budget["tokens"]["left"] == 40000 - budget["tokens"]["used"]


def test_exit_codes_and_stop_reasons_say_what_happened(cli: CliRun, index_path: Path) -> None:
    code, out, _ = cli([], "ask", "q", "--no-tools", "--json", "--budget", "tokens=100")
    result = json.loads(out)
    assert (code, result["stop_reason"], result["exhausted"]) == (3, "budget_exhausted", "tokens")
    assert "the next prompt alone is" in result["detail"] and result["usage"]["requests"] == 0

    code, out, _ = cli(
        [BackendConnectionError("connection refused: http://127.0.0.1:9/v1")], "ask", "q", "--no-tools", "--no-trace"
    )
    assert code == EXIT_CODES["error"] == 1
    assert "stop: error: connection refused: http://127.0.0.1:9/v1" in " ".join(out.split())

    code, out, _ = cli([""] * 10, "ask", "q", "--no-tools", "--json")
    result = json.loads(out)
    assert (code, result["stop_reason"], result["answer"]) == (4, "stalled", None)
    assert result["detail"] == "the model's recent steps made no progress"

    search = json.dumps({"name": "search", "arguments": {"query": ["Paris"]}})
    script = [f"<tool_code>{search}</tool_code>", "<answer>Paris</answer>"]
    index = ["--index", str(index_path), "--json", "--tool-protocol", "text"]
    code, out, _ = cli(script, "ask", "q", *index, "--budget", "search=1,browse=0")
    result = json.loads(out)
    assert code == 0 and result["stop_reason"] == "answered" and result["exhausted"] == "tool:search"
    assert result["detail"] == "answered in a final call: search, browse budget is exhausted"
    # One spent tool does not end the run while another has units: the agent goes on with browse.
    code, out, _ = cli([*script, "<answer>Paris</answer>"], "ask", "q", *index, "--budget", "search=1")
    result = json.loads(out)
    assert code == 0 and result["stop_reason"] == "answered" and result["exhausted"] is None
    assert result["budget"]["search"]["left"] == 0 and result["budget"]["browse"]["left"] == 5


def test_the_live_view_escapes_control_sequences_from_the_model(cli: CliRun) -> None:
    evil = "Paris\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\x9b31m"
    code, out, _ = cli([f"<answer>{evil}</answer>"], "ask", "q\x1b[2J?", "--no-tools", "--no-trace")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "Paris\\x1b]52;c;ZXZpbA==\\x07" in out and "q\\x1b[2J?" in out


def test_ask_writes_a_trace_that_view_renders_with_steps_from_1(cli: CliRun, tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    code, _, err = cli(["<answer>Paris</answer>"], "ask", "q", "--no-tools", "--json", "--trace", str(trace))
    assert code == 0 and f"trace: {trace}" in err
    assert list(read_trace(trace))[-1]["result"]["answer"] == "Paris"
    code, out, _ = cli([], "view", str(trace), "--tree")
    assert code == 0 and "step 1" in out and "step 0" not in out


def test_eval_writes_its_report_with_charts_and_no_plotting_library(
    cli: CliRun, tmp_path: Path, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError: not needed
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "q1", "question": "Capital of France?", "answer": "Paris"}\n')
    code, out, err = cli(
        ["<answer>Paris</answer>"],
        "eval",
        str(tasks),
        "--strategies",
        "react",
        "--budgets",
        "1",
        "--index",
        str(index_path),
        "--report-dir",
        "report",
        "--log",
        "log.jsonl",
    )
    assert code == 0, err
    assert "| react | 1 | 1 | 1.00" in out
    report = (tmp_path / "report" / "report.md").read_text()
    assert "![accuracy vs budget](accuracy_vs_budget.svg)" in report
    assert "tasks.jsonl" in report.splitlines()[0] and "model scripted" in report.splitlines()[0]
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("<svg") == 2 and "tool budget (units per tool)" in page
    assert "<tr class='sample'" in page and "<template id='trajectory-0'>" in page  # the sample, its trajectory
    assert (tmp_path / "report" / "pareto.svg").read_text().startswith("<svg")


def test_eval_writes_a_trace_per_sample_unless_told_not_to(cli: CliRun, tmp_path: Path, index_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "q1", "question": "Capital of France?", "answer": "Paris"}\n')
    common = [str(tasks), "--strategies", "react", "--budgets", "1", "--index", str(index_path)]
    for log, flags in (("traced.jsonl", []), ("bare.jsonl", ["--no-trace"])):
        code, _, err = cli(["<answer>Paris</answer>"], "eval", *common, "--log", log, *flags)
        assert code == 0, err
    (sample,) = [
        json.loads(line) for line in (tmp_path / "traced.jsonl").read_text().splitlines() if '"status"' in line
    ]
    assert sample["trace"].startswith("traced.traces/") and (tmp_path / sample["trace"]).is_file()
    assert not (tmp_path / "bare.traces").exists()
    (bare,) = [json.loads(line) for line in (tmp_path / "bare.jsonl").read_text().splitlines() if '"status"' in line]
    assert bare["status"] == "done" and bare["trace"] is None


def test_the_budget_is_checked_against_the_tools_ask_really_offers(index_path: Path) -> None:
    import argparse

    from thrifty.cli.run import WEB_TOOLS, tools_for

    args = argparse.Namespace(no_tools=False, index=index_path)
    assert tuple(t.spec.name for t in tools_for(args)) == WEB_TOOLS


def test_a_connection_error_names_the_server() -> None:
    import httpx

    error = map_openai_error(httpx.ConnectError("All connection attempts failed"), "http://127.0.0.1:9/v1")
    assert isinstance(error, BackendConnectionError)
    assert str(error) == "http://127.0.0.1:9/v1: All connection attempts failed"


def test_web_serve_has_a_home_page(index_path: Path) -> None:
    import httpx

    from thrifty.search.index import CorpusIndex
    from thrifty.search.web_server import CorpusWebServer

    with CorpusWebServer(CorpusIndex(index_path)) as server:
        home = httpx.get(server.base_url + "/", timeout=5)
        assert home.status_code == 200 and "/en.wikipedia.org/wiki/Paris" in home.text
        assert httpx.get(server.base_url + "/en.wikipedia.org/wiki/Paris", timeout=5).status_code == 200


def test_the_eval_progress_bar_counts_time_left_from_finished_samples_only() -> None:
    import time

    from thrifty.cli.evaluate import _progress_bar
    from thrifty.evals.runner import Progress

    bar, progress = _progress_bar(12)
    # Resumed: 2 samples were already in the log; 1 ran here and took 45 s. 9 remain: about 7 minutes.
    progress(None, Progress(total=12, done=1, skipped=2, started=time.monotonic() - 45))  # type: ignore[arg-type]
    stats = bar.tasks[0].fields["stats"]
    assert "about 7 min left" in stats and bar.tasks[0].completed == 3


def test_report_dollars_are_readable_at_any_scale() -> None:
    from thrifty.evals.report import usd

    assert (usd(0), usd(0.00042), usd(0.0083), usd(0.031)) == ("0", "0.00042", "0.0083", "0.0310")
