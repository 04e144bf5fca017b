"""The controller loop, driven by the shipped ScriptedBackend and a real (tiny) SQLite index."""

import asyncio
import json
from pathlib import Path

import pytest

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import Event, ModelCalled, RunFinished, ToolCalled
from thrifty.agents.strategies import TrackerStrategy, TrajectoryOptions
from thrifty.backends import ChatRequest, ScriptedBackend, tool_call
from thrifty.backends.base import Completion, ToolSpec
from thrifty.budget import FakeClock, Limits, Usage
from thrifty.errors import BackendConnectionError
from thrifty.tools.base import ToolContext, ToolResult
from thrifty.tools.web import BrowseTool, SearchTool


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


@pytest.fixture
def web(tmp_path: Path) -> list:
    index = small_index(tmp_path)
    return [SearchTool(index), BrowseTool(index, mode="summarize")]


async def test_search_then_answer_with_budget_block(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["capital of France"]), "<answer>Paris</answer>"])
    agent = Agent(backend, tools=web, strategy="tracker", limits="search=5,browse=5")
    result = await agent.run("What is the capital of France?")
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    assert result.usage.tool("search") == 1
    observation = backend.requests[1].messages[-1].content
    assert observation.startswith("<tool_response>")
    assert "https://en.wikipedia.org/wiki/Paris" in observation
    assert "Query Budget Used: 1, Query Budget Remaining: 4" in observation
    assert "<budget>" in backend.requests[0].messages[0].content  # regimes + initial status in the system prompt
    backend.assert_complete()


async def test_react_shows_no_budget(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["Berlin"]), "<answer>Berlin</answer>"])
    result = await Agent(backend, tools=web, strategy="react", limits="search=5").run("q")
    assert result.answer == "Berlin"
    assert all("<budget>" not in m.content for m in backend.requests[1].messages)


async def test_batched_search_is_cut_to_the_remaining_units(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["a", "b", "c", "d"]), "<answer>x</answer>"])
    tracker = TrackerStrategy(stop_when_tool_exhausted="all")
    result = await Agent(backend, tools=web, strategy=tracker, limits="search=2").run("q")
    assert result.usage.tool("search") == 2
    out = result.steps[0].tool_calls[0]["output"]
    assert 'Results for "a"' in out or 'No results for "a"' in out
    assert '"c"' not in out
    assert "Budget allowed 2 of the 4 requested units" in out


async def test_malformed_and_unknown_calls_become_observations(web: list) -> None:
    backend = ScriptedBackend(
        [
            "<tool_code>{not json}</tool_code>",
            call("telepathy", x=1),
            call("search", wrong=1),
            "<answer>done</answer>",
        ]
    )
    result = await Agent(backend, tools=web, limits="search=5", config=LoopConfig(max_idle_steps=5)).run("q")
    assert result.stop_reason == "answered"
    assert "not valid JSON" in backend.requests[1].messages[-1].content
    tool_outputs = [c["output"] for s in result.steps for c in s.tool_calls]
    assert any("unknown tool 'telepathy'" in o for o in tool_outputs)
    assert any("missing required argument(s): query" in o for o in tool_outputs)
    assert result.usage.tool("search") == 0  # refused calls cost nothing


async def test_exhausted_tool_forces_a_final_answer_without_tools(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["Paris"]), "<answer>Paris</answer>"])
    result = await Agent(backend, tools=web, limits="search=1,browse=3").run("q")
    assert result.stop_reason == "answered"  # an answer was given: the limit that called for it is named
    assert result.exhausted == "tool:search"
    assert result.detail == "answered in a final call: search budget is exhausted"
    assert result.answer == "Paris"
    final = backend.requests[-1]
    assert final.tools == ()
    assert "search budget is exhausted" in final.messages[-1].content
    assert result.steps[-1].final


async def test_last_request_is_the_final_answer(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["Paris"]), "<answer>Paris</answer>"])
    result = await Agent(backend, tools=web, limits="requests=2,search=9").run("q")
    assert result.stop_reason == "answered" and result.exhausted == "requests"
    assert result.usage.requests == 2
    assert backend.requests[1].tools == ()


async def test_token_budget_is_never_exceeded_and_ends_with_a_stop_reason(web: list) -> None:
    endless = [call("search", query=[f"q{i}"]) for i in range(50)]
    backend = ScriptedBackend([*endless, "<answer>late</answer>"] * 2)
    result = await Agent(backend, tools=web, limits="tokens=6000,search=100").run("q")
    assert result.stop_reason == ("budget_exhausted" if result.answer is None else "answered")
    assert result.exhausted == "tokens"
    assert result.usage.total_tokens <= 6000
    assert not any(e.overrun for e in result.ledger)


async def test_prose_is_accepted_as_the_answer_after_one_nudge() -> None:
    backend = ScriptedBackend(["It is Paris.", "Paris, definitely."])
    result = await Agent(backend).run("q")
    assert result.answer == "Paris, definitely."
    assert "neither a tool call nor an <answer>" in backend.requests[1].messages[-1].content


async def test_none_as_final_answer_falls_back_to_the_best_so_far(web: list) -> None:
    backend = ScriptedBackend(["It is Paris.", call("search", query=["x"]), "<answer>None</answer>"])
    result = await Agent(backend, tools=web, limits="search=1").run("q")
    assert result.answer == "It is Paris."


async def test_repeating_model_is_stopped(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["same"])] * 3 + ["<answer>A</answer>"])
    result = await Agent(backend, tools=web, limits="search=10").run("q")
    assert result.usage.tool("search") == 1  # repeats of an identical call are refused and cost nothing
    assert "already made this exact call" in result.steps[1].tool_calls[0]["output"]
    assert "repeating" in backend.requests[-1].messages[-1].content
    assert result.answer == "A"


async def test_a_run_that_ends_without_an_answer_is_not_called_answered(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["x"]), "<answer>None</answer>", "<answer>None</answer>"])
    result = await Agent(backend, tools=web, limits="search=10").run("q")
    assert "has an answer" in backend.requests[-1].messages[-1].content  # it was asked for the answer once more
    assert (result.answer, result.stop_reason) == (None, "stalled")
    assert result.detail == "the model gave no answer when asked for one"


async def test_backend_failure_is_a_result_not_a_crash() -> None:
    backend = ScriptedBackend(["maybe 7", BackendConnectionError("server gone")])
    result = await Agent(backend).run("q")
    assert result.stop_reason == "error"
    assert "server gone" in (result.error or "")
    assert result.answer == "maybe 7"
    assert result.usage.requests == 2  # the failed request is still counted


async def test_native_tool_calls_run_concurrently() -> None:
    started: list[str] = []
    both = asyncio.Event()

    class Slow:
        spec = ToolSpec("slow", "waits", {"type": "object", "properties": {"id": {"type": "string"}}})

        def units(self, arguments: object) -> int:
            return 1

        def limit_units(self, arguments: object, units: int) -> object:
            return arguments

        async def run(self, arguments: dict, ctx: ToolContext) -> ToolResult:
            started.append(arguments["id"])
            if len(started) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 2)  # deadlocks unless both calls run at once
            return ToolResult("ok " + arguments["id"])

    first = Completion(
        text="", model="s", usage=Usage(), tool_calls=(tool_call("slow", "c1", id="1"), tool_call("slow", "c2", id="2"))
    )
    backend = ScriptedBackend([first, "<answer>both</answer>"], tool_protocol="native")
    result = await Agent(backend, tools=[Slow()], limits="slow=5").run("q")
    assert result.answer == "both"
    tool_messages = [m for m in backend.requests[1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["c1", "c2"]
    assert "<budget>" in tool_messages[-1].content
    assert backend.requests[0].tools and backend.requests[0].stop == ()


async def test_browse_summary_is_a_charged_model_call(web: list) -> None:
    def summarise(request: ChatRequest) -> str:
        assert "untrusted DATA" in request.messages[0].content
        return "Paris is the capital of France."

    events: list[Event] = []
    backend = ScriptedBackend(
        [
            call("browse", url=["https://en.wikipedia.org/wiki/Paris"], goal="capital"),
            summarise,
            "<answer>Paris</answer>",
        ]
    )
    result = await Agent(backend, tools=web, limits="browse=2").run("q", on_event=events.append)
    purposes = [e.purpose for e in events if isinstance(e, ModelCalled)]
    assert purposes == ["agent", "tool:browse", "agent"]
    assert result.usage.requests == 3
    assert "Paris is the capital of France." in result.steps[0].tool_calls[0]["output"]


async def test_unknown_url_costs_its_unit(web: list) -> None:
    backend = ScriptedBackend([call("browse", url=["https://nowhere.example/x"], goal="g"), "<answer>?</answer>"])
    result = await Agent(backend, tools=web, limits="browse=3").run("q")
    assert result.usage.tool("browse") == 1
    assert "page not found" in result.steps[0].tool_calls[0]["output"]


async def test_wall_clock_limit_with_a_fake_clock(web: list) -> None:
    clock = FakeClock()

    def slow_reply(request: ChatRequest) -> str:
        clock.advance(30)
        return call("search", query=["Paris"])

    backend = ScriptedBackend([slow_reply, slow_reply, "<answer>never</answer>"])
    agent = Agent(backend, tools=web, limits=Limits(seconds=45, tools={"search": 10}), clock=clock)
    result = await agent.run("q")
    assert result.stop_reason == "budget_exhausted"
    assert result.exhausted == "seconds"
    # The first call took 30 s; with 15 s left a second one cannot finish, so it is not started
    # (it used to run, ending the run at 60 s against a 45 s limit).
    assert result.usage.requests == 1
    assert result.seconds <= 45 and result.overrun is None


async def test_stream_yields_events_and_ends_with_the_result(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["Paris"]), "<answer>Paris</answer>"])
    agent = Agent(backend, tools=web, limits="search=3")
    events = [e async for e in agent.stream("q")]
    assert isinstance(events[-1], RunFinished)
    assert events[-1].result.answer == "Paris"
    assert any(isinstance(e, ToolCalled) for e in events)


async def test_json_protocol_sends_a_schema_and_parses_steps(web: list) -> None:
    backend = ScriptedBackend(
        [
            json.dumps({"think": "search first", "tool": "search", "arguments": {"query": ["capital of France"]}}),
            json.dumps({"think": "found it", "answer": "Paris"}),
        ],
        tool_protocol="json",
    )
    result = await Agent(backend, tools=web, limits="search=3,browse=3").run("q")
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    fmt = backend.requests[0].response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    assert "anyOf" in fmt["json_schema"]["schema"]
    assert backend.requests[0].stop == ()
    assert '"tool": "tool name"' in backend.requests[0].messages[0].content


async def test_json_protocol_final_step_allows_only_an_answer(web: list) -> None:
    backend = ScriptedBackend(
        [
            json.dumps({"think": "t", "tool": "search", "arguments": {"query": ["Paris"]}}),
            json.dumps({"think": "t", "answer": "Paris"}),
        ],
        tool_protocol="json",
    )
    result = await Agent(backend, tools=web, limits="search=1").run("q")
    assert result.answer == "Paris" and result.stop_reason == "answered" and result.exhausted == "tool:search"
    final_schema = backend.requests[-1].response_format["json_schema"]["schema"]  # type: ignore[index]
    assert "anyOf" not in final_schema and "answer" in final_schema["properties"]


async def test_an_unlimited_budget_still_ends() -> None:
    backend = ScriptedBackend([""] * 10)
    result = await Agent(backend, config=LoopConfig(max_idle_steps=3)).run("q")
    assert result.usage.requests <= 5
    assert result.stop_reason == "stalled" and result.answer is None
    assert result.detail == "the model's recent steps made no progress"


async def test_distinct_native_calls_with_empty_text_are_not_repeats() -> None:
    calls = [
        Completion(text="", model="s", usage=Usage(), tool_calls=(tool_call("lookup", f"c{i}", query=f"q{i}"),))
        for i in range(5)
    ]

    async def lookup(args: object) -> str:
        return "r"

    from thrifty.tools.base import FunctionTool

    tool = FunctionTool("lookup", "l", {"type": "object", "properties": {"query": {"type": "string"}}}, lookup)
    backend = ScriptedBackend([*calls, "<answer>done</answer>"], tool_protocol="native")
    result = await Agent(backend, tools=[tool]).run("q")
    assert (result.stop_reason, result.usage.tool("lookup")) == ("answered", 5)


async def test_a_server_failure_during_the_forced_final_answer_keeps_the_best_answer(web: list) -> None:
    backend = ScriptedBackend(["It is Paris.", call("search", query=["x"]), BackendConnectionError("gone")])
    result = await Agent(backend, tools=web, limits="search=1").run("q")
    assert result.stop_reason == "answered" and result.exhausted == "tool:search"
    assert result.answer == "It is Paris."


async def test_a_tool_whose_repeat_was_refused_is_withheld_for_one_step(web: list) -> None:
    search = json.dumps({"think": "t", "tool": "search", "arguments": {"query": ["Paris"]}})
    backend = ScriptedBackend(
        [
            search,
            search,
            json.dumps(
                {
                    "think": "t",
                    "tool": "browse",
                    "arguments": {"url": ["https://en.wikipedia.org/wiki/Paris"], "goal": "g"},
                }
            ),
            "Paris is the capital.",
            json.dumps({"think": "t", "answer": "Paris"}),
        ],
        tool_protocol="json",
    )
    result = await Agent(backend, tools=web, limits="search=5,browse=5").run("q")
    assert result.answer == "Paris"

    def offered(r):
        return [
            o["properties"]["tool"]["const"]
            for o in r.response_format["json_schema"]["schema"].get("anyOf", [])
            if "tool" in o["properties"]
        ]

    assert offered(backend.requests[1]) == ["search", "browse"]
    assert offered(backend.requests[2]) == ["browse"]  # search withheld after the refused repeat
    assert [t.name for t in backend.requests[2].tools] == ["browse"]


async def test_a_reply_cut_at_the_length_limit_is_not_quoted_back() -> None:
    cut = Completion(
        text='{"think": "a long thought that never clos',
        model="scripted",
        usage=Usage(requests=1, input_tokens=10, output_tokens=8),
        finish_reason="length",
    )
    backend = ScriptedBackend([cut, '{"answer": "Paris"}'], tool_protocol="json")
    result = await Agent(backend, strategy="react").run("Capital of France?")
    nudge = backend.requests[1].messages[-1].content
    assert "cut off at the length limit" in nudge and "never clos" not in nudge  # nothing to copy from
    assert result.answer == "Paris"


async def test_a_spent_tool_is_no_longer_offered_and_all_policy_keeps_the_others(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["Paris"]), "<answer>Paris</answer>"])
    tracker = TrackerStrategy(TrajectoryOptions(stop_when_tool_exhausted="all"))
    result = await Agent(backend, tools=web, strategy=tracker, limits="search=1,browse=2").run("q")
    assert result.stop_reason == "answered" and result.exhausted is None
    assert [t.name for t in backend.requests[1].tools] == ["browse"]


async def test_a_copied_placeholder_argument_is_refused_and_not_charged(web: list) -> None:
    backend = ScriptedBackend([call("search", query=["..."]), "<answer>Paris</answer>"])
    result = await Agent(backend, tools=web, limits="search=2").run("q")
    assert result.usage.tool("search") == 0
    refused = result.steps[0].tool_calls[0]
    assert refused["is_error"] and "placeholder" in refused["output"] and refused["units"] == 0


async def test_an_answer_after_stalling_is_answered_and_says_why(web: list) -> None:
    backend = ScriptedBackend(["thinking...", "thinking...", "<answer>Paris</answer>"])
    result = await Agent(backend, tools=web, config=LoopConfig(max_idle_steps=2, max_format_misses=5)).run("q")
    assert result.answer == "Paris" and result.stop_reason == "answered"
    assert result.detail == "answered in a final call: the model's recent steps made no progress"
