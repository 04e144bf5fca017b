"""Whole runs on the real vLLM server: strategies within budget, the ledger equal to vLLM's usage,
particle filtering with logprob judging, and a two-sample ``thrifty eval`` through the CLI."""

from __future__ import annotations

from importlib import resources
from itertools import islice
from pathlib import Path

import pytest

from tests.vllm.conftest import SpawnedVllm
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import Event, ModelCalled
from thrifty.agents.particles import FilterSettings, LLMJudgePRM, ParticleFilterStrategy, StepSettings
from thrifty.agents.strategies import get_strategy
from thrifty.backends import OpenAICompatBackend
from thrifty.cli import main
from thrifty.evals.log import read_log
from thrifty.evals.math_tasks import generate_math
from thrifty.evals.tasks import read_tasks, write_tasks
from thrifty.search.index import CorpusIndex
from thrifty.tools.web import BrowseTool, SearchTool

pytestmark = pytest.mark.vllm
QUICK = LoopConfig(temperature=0.0, seed=0, step_max_tokens=160, final_max_tokens=64)
LIMITS = "search=2,browse=1,tokens=9000"


def _calls(events: list[Event]) -> list[ModelCalled]:
    return [e for e in events if isinstance(e, ModelCalled)]


@pytest.mark.parametrize("strategy", ["react", "tracker", "bats"])
async def test_strategy_runs_within_budget_and_the_ledger_is_vllms_usage(
    vllm_backend: OpenAICompatBackend, default_index_path: object, strategy: str
) -> None:
    index = CorpusIndex(Path(str(default_index_path)))
    events: list[Event] = []
    agent = Agent(
        vllm_backend,
        tools=[SearchTool(index), BrowseTool(index)],
        strategy=get_strategy(strategy),
        limits=LIMITS,
        config=QUICK,
    )
    result = await agent.run("What is the capital of Peru?", on_event=events.append)
    calls = _calls(events)
    assert calls and result.stop_reason in ("answered", "budget_exhausted", "stalled"), result.error
    for e in calls:
        raw = (e.completion.raw or {})["usage"]
        assert e.completion.usage.input_tokens == raw["prompt_tokens"] == e.prompt_tokens_counted
        assert e.count_exact and not e.completion.usage_estimated
    assert result.usage.input_tokens == sum(e.completion.usage.input_tokens for e in calls)
    assert result.usage.output_tokens == sum(e.completion.usage.output_tokens for e in calls)
    assert result.usage.requests == len(calls)
    assert result.usage.total_tokens <= 9000 and result.usage.tool("search") <= 2 and result.usage.tool("browse") <= 1


async def test_particle_filter_prefills_and_judges_by_logprobs(vllm_backend: OpenAICompatBackend) -> None:
    task = generate_math(1, seed=3)[0]
    events: list[Event] = []
    settings = FilterSettings(particles=2, max_steps=2, step=StepSettings(max_tokens=48))
    strategy = ParticleFilterStrategy(settings, prm=LLMJudgePRM(), name="pf")
    result = await Agent(vllm_backend, strategy=strategy, limits="tokens=12000").run(
        task.question, on_event=events.append
    )
    calls = _calls(events)
    assert result.stop_reason in ("answered", "budget_exhausted") and result.answer is not None
    assert result.usage.total_tokens <= 12000
    assert result.usage.requests == len([e for e in result.ledger if e.kind == "model"])
    # one ModelCalled per prompt: a batched judge request (one charge) announces each particle's judgement
    assert len(calls) >= result.usage.requests
    judged = [c for c in calls if c.purpose == "prm"]
    assert judged and all(c.completion.logprobs for c in judged)
    continued = [c for c in calls if c.purpose == "particle" and c.request.messages[-1].role == "assistant"]
    assert all(c.count_exact and c.prompt_tokens_counted == c.completion.usage.input_tokens for c in continued)


def test_thrifty_eval_of_two_samples(vllm_server_info: SpawnedVllm, tmp_path: Path, default_index_path: Path) -> None:
    sample = resources.files("thrifty.evals").joinpath("data/sample_tasks.jsonl")
    with resources.as_file(sample) as path:
        tasks = list(islice(read_tasks(path), 2))
    task_file, log = tmp_path / "tasks.jsonl", tmp_path / "log.jsonl"
    write_tasks(tasks, task_file)
    code = main(
        [
            "eval",
            str(task_file),
            "--base-url",
            vllm_server_info.base_url,
            "--strategies",
            "react",
            "--budgets",
            "1",
            "--extra-budget",
            "tokens=8000",
            "--log",
            str(log),
            "--concurrency",
            "2",
            "--index",
            str(default_index_path),
        ]
    )
    samples = list(read_log(log))
    assert code == 0 and sorted(s.task_id for s in samples) == sorted(t.id for t in tasks)
    for s in samples:
        assert s.stop_reason in ("answered", "budget_exhausted", "stalled"), s
        assert s.usage["requests"] >= 1 and s.usage["input_tokens"] + s.usage["output_tokens"] <= 8000
