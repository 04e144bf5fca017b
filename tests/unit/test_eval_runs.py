"""Eval runs have identity, and one sample's failure is its own result, never the eval's."""

import asyncio
import json
from pathlib import Path

import pytest

from thrifty.backends import ScriptedBackend
from thrifty.budget import Limits
from thrifty.errors import BackendConnectionError, ConfigError
from thrifty.evals.log import load_log, open_log, read_log
from thrifty.evals.report import markdown, summarize, wilson_interval
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task


def _tasks(n: int) -> list[Task]:
    return [
        Task(
            id=f"t{i}",
            question=f"question number {i}?",
            answer="Lima",
            aliases=(),
            type="x",
            difficulty="x",
            evidence_urls=(),
            oracle_budget={},
            meta={},
        )
        for i in range(n)
    ]


def _responder(failures: dict[str, BaseException | str]):  # type: ignore[no-untyped-def]
    async def respond(request) -> str:  # type: ignore[no-untyped-def]
        question = request.messages[-1].content
        for marker, failure in failures.items():
            if marker in question:
                if isinstance(failure, BaseException):
                    raise failure
                return failure
        await asyncio.sleep(0.02)  # still in flight when the failures happen
        return "<answer>Lima</answer>"

    return respond


REACT = [Condition("react", "1", Limits(requests=3))]


async def test_one_failing_sample_neither_cancels_the_others_nor_blocks_resume(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    failures: dict[str, BaseException | str] = {
        "number 1?": RecursionError("maximum recursion depth exceeded"),
        "number 2?": "<answer>\ud800</answer>",  # a lone surrogate: must not break the log or the trace
        "number 3?": BackendConnectionError("connection refused"),
    }
    backend = ScriptedBackend([_responder(failures)] * 50)
    progress = await run_eval(_tasks(6), REACT, backends=[backend], tools=[], log_path=log, retries=0, concurrency=6)
    samples = {s.task_id: s for s in read_log(log)}
    assert set(samples) == {f"t{i}" for i in range(6)}
    assert samples["t1"].status == "error" and "RecursionError" in (samples["t1"].error or "")
    assert samples["t3"].status == "error" and "connection refused" in (samples["t3"].error or "")
    assert samples["t2"].status == "done" and samples["t2"].answer == "\ud800"
    assert (progress.done, progress.errors) == (4, 2)
    [row] = summarize(read_log(log))
    assert (row.n, row.errors, row.accuracy) == (4, 2, 0.75)  # errors are not scored as wrong

    # Resume: only the errored samples run again; once they succeed, the report counts them.
    again = ScriptedBackend([_responder({})] * 10)
    progress = await run_eval(_tasks(6), REACT, backends=[again], tools=[], log_path=log, retries=0)
    assert (progress.done, progress.skipped, len(again.requests)) == (2, 4, 2)
    [row] = summarize(read_log(log))
    assert (row.n, row.errors, row.accuracy) == (6, 0, 5 / 6)


async def test_every_sample_writes_a_trace_named_by_its_log_row(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    await run_eval(_tasks(2), REACT, backends=[ScriptedBackend([_responder({})] * 2)], tools=[], log_path=log)
    for sample in read_log(log):
        assert sample.trace is not None
        records = [json.loads(line) for line in (tmp_path / sample.trace).read_text().splitlines()]
        assert records[0]["type"] == "TraceStarted" and records[-1]["type"] == "RunFinished"
        assert sample.limits == {"requests": 3} and sample.overrun is None


async def test_a_run_with_another_model_or_limit_is_a_new_run(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"

    async def run(model: str, limits: Limits) -> int:
        backend = ScriptedBackend([_responder({})] * 3, model=model)
        cond = [Condition("react", "1", limits)]
        return (await run_eval(_tasks(3), cond, backends=[backend], tools=[], log_path=log)).done

    assert await run("m1", Limits(requests=3)) == 3
    assert await run("m1", Limits(requests=3)) == 0  # same settings: resumed, nothing rerun
    assert await run("m2", Limits(requests=3)) == 3  # another model is another run
    assert await run("m1", Limits(requests=4)) == 3  # so is another limit
    contents = load_log(log)
    assert len(contents.headers) == 3
    assert {h.model for h in contents.headers.values()} == {"m1", "m2"}
    rows = summarize(contents.samples)
    assert len(rows) == 3 and all(r.n == 3 for r in rows)  # reported per run, never mixed


async def test_a_second_writer_is_refused_before_running_anything(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    holder = open_log(log)
    backend = ScriptedBackend([_responder({})] * 2)
    try:
        with pytest.raises(ConfigError, match="being written by another eval"):
            await run_eval(_tasks(2), REACT, backends=[backend], tools=[], log_path=log)
    finally:
        holder.close()
    assert backend.requests == []


async def test_unknown_lines_are_skipped_with_a_warning_and_counted(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.jsonl"
    await run_eval(_tasks(2), REACT, backends=[ScriptedBackend([_responder({})] * 2)], tools=[], log_path=log)
    _append_text(log, '{"some": "other tool"}\nnot json at all\n[1, 2]\n{"kind": "sample", "version": 99}\n')
    contents = load_log(log)
    assert contents.skipped == 4 and len(contents.samples) == 2
    assert "cannot read" in caplog.text
    progress = await run_eval(_tasks(3), REACT, backends=[ScriptedBackend([_responder({})])], tools=[], log_path=log)
    assert (progress.done, progress.skipped) == (1, 2)  # resume still works around the odd lines


def _append_text(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def test_wilson_intervals_are_not_degenerate_at_the_edges() -> None:
    low, high = wilson_interval(0, 4)
    assert low == 0.0 and 0.45 < high < 0.5
    low, high = wilson_interval(4, 4)
    assert 0.5 < low < 0.55 and high == 1.0
    low, high = wilson_interval(50, 100)
    assert abs(low - 0.4038) < 1e-3 and abs(high - 0.5962) < 1e-3  # the textbook value


async def test_pass_at_n_counts_any_correct_candidate_beside_the_majority(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    # Four parallel runs: three say Quito (the majority, wrong), one says Lima (right); the judge tallies.
    replies = [
        "<answer>Quito</answer>",
        "<answer>Lima</answer>",
        "<answer>Quito</answer>",
        "<answer>Quito</answer>",
        "Answer: \\boxed{A}",
    ]
    cond = [Condition("parallel", "1", Limits(requests=8))]
    await run_eval(_tasks(1), cond, backends=[ScriptedBackend(replies)], tools=[], log_path=log, concurrency=1)
    [sample] = read_log(log)
    assert sample.correct is False and sample.correct_any is True
    [row] = summarize(read_log(log))
    assert (row.accuracy, row.pass_at_n) == (0.0, 1.0)
    assert "| 0.00 (0.00–0.79) | 1.00 (0.21–1.00) |" in markdown([row])


async def test_parallel_pass_is_scored_by_pass_at_n(tmp_path: Path) -> None:
    """BATS §5.1: Pass@N counts a question solved when any of the N runs answered it correctly."""
    log = tmp_path / "log.jsonl"
    replies = ["<answer>Quito</answer>", "<answer>Lima</answer>", "<answer>Quito</answer>", "<answer>Quito</answer>"]
    cond = [Condition("parallel-pass", "1", Limits(requests=8))]
    await run_eval(_tasks(1), cond, backends=[ScriptedBackend(replies)], tools=[], log_path=log, concurrency=1)
    [sample] = read_log(log)
    assert sample.answer == "Quito"  # the majority is still shown
    assert sample.correct is True and sample.correct_any is True
    [row] = summarize(read_log(log))
    assert (row.accuracy, row.pass_at_n) == (1.0, 1.0)


async def test_gaia_attachments_reach_the_agent_through_the_file_tool(tmp_path: Path) -> None:
    from thrifty.evals.datasets import load

    gaia = tmp_path / "gaia"
    gaia.mkdir()
    (gaia / "prices.csv").write_text("item,price\napple,3\npear,4\n")
    (gaia / "other.csv").write_text("secret,1\n")  # another task's file: must stay out of reach
    rows = [
        {
            "task_id": "g1",
            "Question": "What does a pear cost?",
            "Level": 1,
            "Final answer": "4",
            "file_name": "prices.csv",
        }
    ]
    (gaia / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = list(load(gaia))
    seen: list[str] = []

    def read_it(request) -> str:  # type: ignore[no-untyped-def]
        seen.append(request.messages[-1].content)
        return '<tool_code>{"name": "read_file", "arguments": {"path": "prices.csv"}}</tool_code>'

    def peek(request) -> str:  # type: ignore[no-untyped-def]
        seen.append(request.messages[-1].content)
        return '<tool_code>{"name": "read_file", "arguments": {"path": "other.csv"}}</tool_code>'

    def answer(request) -> str:  # type: ignore[no-untyped-def]
        seen.append(request.messages[-1].content)
        return "<answer>4</answer>"

    log = tmp_path / "log.jsonl"
    backend = ScriptedBackend([read_it, peek, answer])
    await run_eval(tasks, [Condition("react", "1", Limits(requests=6))], backends=[backend], tools=[], log_path=log)
    [sample] = read_log(log)
    assert "prices.csv" in seen[0] and "read_file" in seen[0]  # the question names the file and the tool
    assert "pear\t4" in seen[1]  # the attachment's content reached the model
    assert "no attachment named 'other.csv'" in seen[2]  # other tasks' files are not reachable
    assert sample.correct and sample.status == "done"


async def test_an_overrun_is_recorded_on_the_eval_row_with_the_limits(tmp_path: Path) -> None:
    from thrifty.backends.base import Completion
    from thrifty.budget import Usage

    def lying(request) -> Completion:  # type: ignore[no-untyped-def]
        usage = Usage(requests=1, input_tokens=300, output_tokens=5_000)  # ignores max_tokens
        return Completion(text="<answer>Lima</answer>", model="scripted", usage=usage)

    log = tmp_path / "log.jsonl"
    cond = [Condition("react", "1", Limits(total_tokens=1_000))]
    await run_eval(
        _tasks(1), cond, backends=[ScriptedBackend([lying], respect_max_tokens=False)], tools=[], log_path=log
    )
    [sample] = read_log(log)
    assert sample.limits == {"total_tokens": 1_000}
    assert sample.overrun == {"excess": {"total_tokens": 4_300}, "calls": 1}
    [row] = summarize(read_log(log))
    assert row.overruns == 1


async def test_traces_can_be_turned_off(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    await run_eval(
        _tasks(2), REACT, backends=[ScriptedBackend([_responder({})] * 2)], tools=[], log_path=log, traces=False
    )
    assert all(s.trace is None for s in read_log(log)) and not (tmp_path / "log.traces").exists()


def test_a_server_thrifty_started_is_named_by_what_it_serves_not_its_port() -> None:
    """The embedded server (and a vLLM thrifty spawns) listens on a new port at every start: a
    resume against the restarted server must find the same run, a different server must not."""
    from thrifty.agents.controller import LoopConfig
    from thrifty.backends.openai_compat import OpenAICompatBackend
    from thrifty.evals.identity import run_header

    def header(url: str, identity: str | None) -> str:
        backend = OpenAICompatBackend(url, "m")
        backend.identity = identity
        return run_header(Condition("react", "1", Limits()), [backend], LoopConfig(), "").run

    embedded = "embedded m context=32768 parallel=4"
    assert header("http://127.0.0.1:40001/v1", embedded) == header("http://127.0.0.1:40002/v1", embedded)
    assert header("http://127.0.0.1:40001/v1", embedded) != header("http://127.0.0.1:40001/v1", embedded + "0")
    assert header("http://127.0.0.1:40001/v1", None) != header("http://127.0.0.1:40002/v1", None)
