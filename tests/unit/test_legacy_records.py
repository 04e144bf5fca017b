"""Files written before traces, replay caches and eval logs moved to one serialiser (pydantic
TypeAdapters, :mod:`thrifty.records`) still load. ``tests/fixtures/legacy`` was written by the
previous code: a recorded run (a tool that makes a model call, logprobs, reasoning, cached tokens),
its trace, and a two-sample eval log."""

from __future__ import annotations

import shutil
from pathlib import Path

from thrifty.backends.base import ChatRequest, Completion
from thrifty.budget import Usage
from thrifty.evals.log import done_keys, load_log
from thrifty.records import dump, load
from thrifty.replay import ReplayCache, ToolRecord
from thrifty.traces import read_trace, summary

LEGACY = Path(__file__).parent.parent / "fixtures" / "legacy"


def test_an_old_trace_reads_and_its_values_load_as_their_types() -> None:
    records = list(read_trace(LEGACY / "trace.jsonl"))
    assert [r["type"] for r in records][:2] == ["TraceStarted", "RunStarted"] and records[-1]["type"] == "RunFinished"
    assert all(summary(r) for r in records)
    calls = [r for r in records if r["type"] == "ModelCalled"]
    assert len(calls) == 3
    for record in calls:
        # written anew, every old field comes back unchanged; fields added since are at their defaults
        completion = dump(load(Completion, record["completion"]), exclude={"raw"})
        assert {k: completion[k] for k in record["completion"]} == record["completion"]
        assert {k: v for k, v in completion.items() if k not in record["completion"]} == {
            "samples": [],
            "sample_logprobs": [],
        }
        request = dump(load(ChatRequest, record["request"]))
        assert {k: request[k] for k in record["request"]} == record["request"]
        assert {k: v for k, v in request.items() if k not in record["request"]} == {"n": 1}
    last = load(Completion, calls[-1]["completion"])
    assert last.logprobs is not None and last.logprobs[0].top[1] == ("Lyon", -2.5)
    assert last.usage == Usage(requests=1, input_tokens=50, cached_tokens=10, output_tokens=6, reasoning_tokens=2)
    assert Usage.from_dict(records[-1]["result"]["usage"]).tool_units == {"digest": 1}


def test_an_old_replay_cache_answers_the_requests_it_recorded(tmp_path: Path) -> None:
    shutil.copy(LEGACY / "replay.sqlite", tmp_path / "cache.sqlite")
    cache = ReplayCache(tmp_path / "cache.sqlite", "replay")
    calls = [r for r in read_trace(LEGACY / "trace.jsonl") if r["type"] == "ModelCalled"]
    model = calls[0]["completion"]["model"]
    for record in calls:  # keys are derived the same way: each recorded request is found
        request = load(ChatRequest, record["request"])
        cached = cache.require(cache.key("complete", [model, request]), "legacy call")
        assert load(Completion, cached).text == record["completion"]["text"]
    tool = next(r for r in read_trace(LEGACY / "trace.jsonl") if r["type"] == "ToolCalled")
    cached = cache.require(cache.key("tool", [tool["call"]["name"], tool["call"]["arguments"]]), "legacy tool")
    recorded = load(ToolRecord, cached)
    assert recorded.content == tool["output"] and not recorded.is_error
    assert [r.max_tokens for r in recorded.requests] == [40]  # the tool's own model call, re-issued on replay
    assert cache.misses == 0
    cache.close()


def test_an_old_eval_log_loads_every_line() -> None:
    log = load_log(LEGACY / "eval.jsonl")
    assert (len(log.headers), len(log.samples), log.skipped) == (1, 2, 0)
    [run] = log.headers
    assert all(s.run == run and s.status == "done" and s.correct for s in log.samples)
    assert len(done_keys(LEGACY / "eval.jsonl")) == 2
    assert log.samples[0].usage["requests"] == 1
