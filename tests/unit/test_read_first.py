"""The read-first rail when its reading only repeats a name the question states: one more reading with
that name excluded, charged like the first; a second echo goes on to the loop."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import Event, ModelCalled
from thrifty.agents.rails import SMALL_MODEL_RAILS, ReadFirst
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.backends.profiles import EMBEDDED_PROFILE
from thrifty.tools.web import BrowseTool, SearchTool

READ = LoopConfig(rails=replace(SMALL_MODEL_RAILS, decompose=None, compare=None))
QUESTION = "What is the capital of France?"


@pytest.fixture
def web(tmp_path: Path) -> list:
    index = small_index(tmp_path)
    return [SearchTool(index), BrowseTool(index)]


def answer(text: str) -> str:
    return json.dumps({"answer": text})


def test_an_echo_is_told_apart_from_an_answer() -> None:
    assert ReadFirst.echoed(answer("France"), QUESTION) == "France"
    assert ReadFirst.echoed(answer("Paris"), QUESTION) is None
    assert ReadFirst.echoed(answer("None"), QUESTION) is None
    assert ReadFirst.echoed("not json", QUESTION) is None


def test_the_first_reading_names_no_exclusion() -> None:
    first = ReadFirst().request(QUESTION, "results", json_protocol=True).messages[0].content
    again = ReadFirst().request(QUESTION, "results", json_protocol=True, exclude="France").messages[0].content
    assert "is not" not in first and f"Question: {QUESTION}\n" in first
    assert f'Question: {QUESTION} (The answer is not "France": the question already names it.)' in again


async def test_an_echoed_reading_is_read_again_without_the_name(web: list) -> None:
    def again(request: ChatRequest) -> str:
        assert 'The answer is not "France"' in request.messages[0].content
        assert "https://en.wikipedia.org/wiki/Paris" in request.messages[0].content  # the same results
        return answer("Paris")

    events: list[Event] = []
    backend = ScriptedBackend([answer("France"), again], profile=EMBEDDED_PROFILE, tool_protocol="json")
    result = await Agent(backend, tools=web, limits="search=3", config=READ).run(QUESTION, on_event=events.append)
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["read_first", "read_first"]
    assert result.usage.requests == 2 and result.usage.tool("search") == 1  # both readings charged
    backend.assert_complete()


async def test_a_second_echo_goes_on_to_the_loop(web: list) -> None:
    loop_step = json.dumps({"evidence": "Paris is the capital.", "answer": "Paris"})
    backend = ScriptedBackend(
        [answer("France"), answer("France"), loop_step], profile=EMBEDDED_PROFILE, tool_protocol="json"
    )
    result = await Agent(backend, tools=web, limits="search=3", config=READ).run(QUESTION)
    assert (result.answer, result.usage.requests) == ("Paris", 3)
    assert backend.requests[2].tools and not backend.requests[1].tools  # the loop's own step comes third


async def test_no_second_reading_when_the_budget_has_no_room(web: list) -> None:
    backend = ScriptedBackend([answer("France"), answer("Paris")], profile=EMBEDDED_PROFILE, tool_protocol="json")
    result = await Agent(backend, tools=web, limits="search=3,requests=1", config=READ).run(QUESTION)
    assert (result.usage.requests, result.stop_reason) == (1, "budget_exhausted")  # no second reading past it
    assert result.exhausted == "requests"
