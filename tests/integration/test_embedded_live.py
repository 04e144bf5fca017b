"""Against the real embedded server (llama-server + the default Qwen2.5-Coder GGUF) and the real corpus index.

Assertions are about properties (usage charged, counts exact, JSON parses, stop reasons, limits
held), never about exact model wording.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import Event, ModelCalled
from thrifty.agents.protocol import parse_text_reply
from thrifty.agents.thinking import END_THINKING
from thrifty.backends import ChatRequest, Message, OpenAICompatBackend
from thrifty.budget import Limits
from thrifty.search.index import CorpusIndex
from thrifty.tools.web import BrowseTool, SearchTool

pytestmark = pytest.mark.live_model
DETERMINISTIC = LoopConfig(temperature=0.0, seed=0, step_max_tokens=256, final_max_tokens=128)


def web_tools(index_path: object) -> list:
    index = CorpusIndex(Path(str(index_path)))
    return [SearchTool(index), BrowseTool(index)]


async def test_identical_sampled_requests_draw_their_own_samples(live_backend: OpenAICompatBackend) -> None:
    """The embedded server pins no seed. With ``--seed 0`` llama-server re-seeded every request, and
    three of four identical requests at T = 0.8 returned the same text: the samples that
    self-consistency, best-of-N and particle filtering vote over agreed by construction."""
    request = ChatRequest(
        messages=(Message("user", "Write one short sentence about any animal you like."),),
        max_tokens=16,
        temperature=1.0,
    )
    texts = [(await live_backend.complete(request)).text for _ in range(5)]  # one at a time: no batching noise
    assert len(set(texts)) >= 4, texts


async def test_completion_usage_and_exact_prompt_count(live_backend: OpenAICompatBackend) -> None:
    request = ChatRequest(
        messages=(Message("system", "You are concise."), Message("user", "Name the capital of France.")),
        max_tokens=24,
        temperature=0.0,
        seed=0,
        logprobs=True,
        top_logprobs=3,
    )
    count = await live_backend.count_tokens(request)
    completion = await live_backend.complete(request)
    assert count.exact
    assert completion.usage.input_tokens == count.tokens  # the pre-check counts what the server bills
    assert 0 < completion.usage.output_tokens <= 24
    assert completion.finish_reason in ("stop", "length")
    assert completion.logprobs and all(t.logprob <= 0 for t in completion.logprobs)
    assert len(completion.logprobs[0].top) == 3
    assert "paris" in completion.text.lower()  # the one semantic smoke check


async def test_ledger_charges_exactly_what_the_server_reports(
    live_backend: OpenAICompatBackend, default_index_path: object
) -> None:
    events: list[Event] = []
    agent = Agent(
        live_backend, tools=web_tools(default_index_path), limits="search=2,browse=1,tokens=12000", config=DETERMINISTIC
    )
    result = await agent.run("Who directed the film 2001: A Space Odyssey?", on_event=events.append)
    calls = [e for e in events if isinstance(e, ModelCalled)]
    assert calls, "the model was never called"
    for e in calls:
        raw_usage = (e.completion.raw or {})["usage"]
        assert e.completion.usage.input_tokens == raw_usage["prompt_tokens"]
        assert e.completion.usage.output_tokens == raw_usage["completion_tokens"]
        assert e.count_exact and e.prompt_tokens_counted == raw_usage["prompt_tokens"]
    assert result.usage.input_tokens == sum(e.completion.usage.input_tokens for e in calls)
    assert result.usage.output_tokens == sum(e.completion.usage.output_tokens for e in calls)
    assert result.usage.requests == len(calls)
    assert result.stop_reason in ("answered", "budget_exhausted", "stalled")
    assert result.usage.total_tokens <= 12000


async def test_tool_calls_from_the_real_model_parse(live_backend: OpenAICompatBackend) -> None:
    system = (
        'You call tools by writing <tool_code>{"name": "search", "arguments": {"query": ["..."]}}</tool_code>. '
        "Always search before answering."
    )
    request = ChatRequest(
        messages=(Message("system", system), Message("user", "Search for the capital of Peru.")),
        max_tokens=80,
        temperature=0.0,
        seed=0,
        stop=("</tool_code>",),
    )
    completion = await live_backend.complete(request)
    parsed = parse_text_reply(completion.text)
    assert parsed.errors == ()
    assert [c.name for c in parsed.tool_calls] == ["search"]
    json.dumps(dict(parsed.tool_calls[0].arguments))  # arguments are plain JSON data


async def test_budget_stop_is_honoured(live_backend: OpenAICompatBackend, default_index_path: object) -> None:
    tools = web_tools(default_index_path)
    question = "Which country has the larger population, Peru or Chile?"
    # a budget a run may answer within: it answers or stops for the budget, naming the limit, never past it
    agent = Agent(live_backend, tools=tools, limits="search=1,browse=1,tokens=3000", config=DETERMINISTIC)
    result = await agent.run(question)
    assert result.stop_reason in ("answered", "budget_exhausted", "stalled")
    assert result.stop_reason != "budget_exhausted" or result.exhausted is not None
    assert result.usage.total_tokens <= 3000
    assert result.usage.tool("search") <= 1 and result.usage.tool("browse") <= 1
    # a budget smaller than the agent's system prompt: the stop must come, and say which limit
    starved = await Agent(live_backend, tools=tools, limits="search=1,tokens=300", config=DETERMINISTIC).run(question)
    assert starved.stop_reason == "budget_exhausted" and starved.exhausted is not None
    assert starved.usage.total_tokens <= 300


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limits=st.builds(
        Limits,
        total_tokens=st.integers(1200, 6000),
        output_tokens=st.none() | st.integers(20, 400),
        requests=st.none() | st.integers(1, 4),
        tools=st.fixed_dictionaries({"search": st.integers(0, 3), "browse": st.integers(0, 2)}),
    )
)
def test_limits_are_never_exceeded_on_the_real_model(
    embedded_server: str, default_index_path: object, limits: Limits
) -> None:
    async def run() -> None:
        from thrifty.backends.embedded import DEFAULT_MODEL
        from thrifty.backends.profiles import EMBEDDED_PROFILE

        backend = OpenAICompatBackend(embedded_server, DEFAULT_MODEL.name, profile=EMBEDDED_PROFILE)
        try:
            agent = Agent(backend, tools=web_tools(default_index_path), limits=limits, config=DETERMINISTIC)
            result = await agent.run("What is the capital of Chile?")
        finally:
            await backend.aclose()
        used = result.usage
        assert result.stop_reason in ("answered", "budget_exhausted", "stalled")
        assert used.total_tokens <= limits.total_tokens  # type: ignore[operator]
        if limits.output_tokens is not None:
            assert used.output_tokens <= limits.output_tokens
        if limits.requests is not None:
            assert used.requests <= limits.requests
        for tool, cap in limits.tools.items():
            assert used.tool(tool) <= cap
        assert not any(e.overrun for e in result.ledger)

    asyncio.run(run())


async def test_browse_summary_by_the_real_model_is_charged(
    live_backend: OpenAICompatBackend, default_index_path: object
) -> None:
    events: list[Event] = []
    index = CorpusIndex(Path(str(default_index_path)))
    tools = [BrowseTool(index, mode="summarize")]
    agent = Agent(live_backend, tools=tools, limits="browse=1,tokens=6000", config=DETERMINISTIC)
    from thrifty.agents.calls import ModelCaller
    from thrifty.agents.prompts import render_prompt
    from thrifty.tools.base import ToolContext

    ledger = agent.new_ledger()
    caller = ModelCaller(live_backend, ledger, events.append)
    browse = agent.tools.get("browse")
    assert browse is not None
    result = await browse.run(
        {"url": ["https://en.wikipedia.org/wiki/Stanley_Kubrick"], "goal": "What is Kubrick known for?"},
        ToolContext(lambda req: caller(req, step=0, purpose="tool:browse"), render_prompt),
    )
    assert not result.is_error
    assert "Stanley Kubrick" in result.content
    summaries = [e for e in events if isinstance(e, ModelCalled)]
    assert len(summaries) == 1 and summaries[0].purpose == "tool:browse"
    assert ledger.used.requests == 1 and ledger.used.total_tokens == summaries[0].completion.usage.total_tokens


async def test_the_agent_searches_the_offline_web(
    live_backend: OpenAICompatBackend, default_index_path: object
) -> None:
    agent = Agent(
        live_backend, tools=web_tools(default_index_path), limits="search=3,browse=2,tokens=15000", config=DETERMINISTIC
    )
    result = await agent.run("What is the capital of Chile?")
    searches = [c for s in result.steps for c in s.tool_calls if c["name"] == "search" and not c["is_error"]]
    assert searches, "the embedded agent never searched"
    assert "Results for" in searches[0]["output"]
    assert result.usage.tool("search") >= 1


async def test_the_thinking_dial_works_on_the_real_model(live_backend: OpenAICompatBackend) -> None:
    """Budget forcing on the prompted think block, end to end: the JSON protocol's answer after the
    closed block is accepted by llama-server (a grammar cannot continue a free-text prefill, so it
    goes out as a new turn), thinking is charged as reasoning tokens, and a higher level's waits
    make more thinking requests than a lower one."""
    used = {}
    for level in ("low", "medium"):
        events: list[Event] = []
        config = LoopConfig(temperature=0.0, seed=0, step_max_tokens=128, thinking=level)  # type: ignore[arg-type]
        agent = Agent(live_backend, limits="tokens=8000", config=config)
        question = "Ana has 11 books and sells 2 of them. How many books does she have now?"
        result = await agent.run(question, on_event=events.append)
        assert result.stop_reason in ("answered", "stalled", "budget_exhausted"), result.error
        assert result.usage.reasoning_tokens > 0
        used[level] = sum(1 for e in events if isinstance(e, ModelCalled) and e.purpose == "think")
        answers = [e.request for e in events if isinstance(e, ModelCalled) and e.purpose == "answer" and e.request]
        blocks = [m.content for r in answers for m in r.messages if m.content.startswith("<think>")]
        thoughts = [b.removeprefix("<think>").split("</think>")[0].split(END_THINKING.strip()[:20])[0] for b in blocks]
        assert thoughts and all(
            len(t.strip()) > 40 for t in thoughts
        )  # the answer sees the thought, not an empty block
    assert used["medium"] > used["low"] >= 1
