"""The comparison rail: its pure decisions (values parsed and compared), then in the loop with the
ScriptedBackend and a real index."""

import json
from pathlib import Path

import pytest

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.choice import Compare, decide, parse_date, parse_quantity
from thrifty.agents.events import Event, ModelCalled
from thrifty.backends import ScriptedBackend
from thrifty.backends.profiles import EMBEDDED_PROFILE
from thrifty.tools.web import BrowseTool, SearchTool

CHOICE = "Which city was founded first, Paris or Berlin?"
SPLIT = json.dumps({"a": "Paris", "b": "Berlin", "ask": "When was #1 founded?"})


@pytest.fixture
def web(tmp_path: Path) -> list:
    index = small_index(tmp_path)
    return [SearchTool(index), BrowseTool(index)]


def small_backend(steps: list) -> ScriptedBackend:
    return ScriptedBackend(steps, profile=EMBEDDED_PROFILE, tool_protocol="json")


def answer(text: str) -> str:
    return json.dumps({"answer": text})


# ----------------------------------------------------------------------------- values and decisions


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12 February 1809", (1809, 2, 12)),
        ("February 12, 1809", (1809, 2, 12)),
        ("1889", (1889, 0, 0)),
        ("c. 500 BC", (-500, 0, 0)),
        ("the 12th century", (1100, 0, 0)),
        ("founded in March 1976 in Los Altos", (1976, 3, 0)),
        ("unknown", None),
    ],
)
def test_dates_are_read_from_what_a_page_says(value: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("108,113,150 (2021 est.)", (108113150.0, "")),
        ("1.2 billion people", (1.2e9, "")),
        ("8,849 m (29,032 ft)", (8849.0, "m")),
        ("371,000 km²", (371000.0, "km2")),
        ("about 6,650 kilometres", (6650.0, "km")),
        ("none given", None),
    ],
)
def test_amounts_carry_their_scale_and_unit(value: str, expected: tuple[float, str] | None) -> None:
    assert parse_quantity(value) == expected


@pytest.mark.parametrize(
    ("question", "ask", "values", "winner"),
    [
        ("Which country has more people, A or B?", "What is the population of #1?", ("108 million", "1.4 billion"), 1),
        ("Which is smaller, A or B?", "How big is #1?", ("68,800 km²", "371,000 km2"), 0),
        ("Who was older, A or B?", "When was #1 born?", ("12 February 1809", "7 February 1812"), 0),
        ("Who was born later, A or B?", "When was #1 born?", ("1756", "1770"), 1),
        ("Which is older, A or B?", "When was #1 built?", ("12th century", "1406 to 1420"), 0),
        ("Which film came out earlier, A or B?", "When was #1 released?", ("May 1, 1941", "November 26, 1942"), 0),
        # code cannot tell: the model chooses
        ("Which river is longer, A or B?", "How long is #1?", ("2,525 km", "2,700 mi"), None),
        ("Who was older, A or B?", "How old was #1?", ("45", "50"), None),
        ("Which is prettier, A or B?", "How tall is #1?", ("300 m", "400 m"), None),
        ("Which came first, A or B?", "When was #1 made?", ("1990", "1990"), None),
        ("Which is longer, A or B?", "How long is #1?", ("long", "4,350 km"), None),
    ],
)
def test_code_compares_only_what_it_can_tell(
    question: str, ask: str, values: tuple[str, str], winner: int | None
) -> None:
    assert decide(question, ask, values) == winner


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (SPLIT, ("Paris", "Berlin", "When was #1 founded?")),
        (json.dumps({"a": "Paris", "b": "Rome", "ask": "When was #1 founded?"}), None),  # Rome is not an option
        (json.dumps({"a": "Paris", "b": "Paris", "ask": "When was #1 founded?"}), None),
        (json.dumps({"a": "Paris", "b": "Berlin", "ask": "When was Paris founded?"}), None),
        ("not json", None),
    ],
)
def test_a_split_names_two_options_the_question_states(reply: str, expected: tuple[str, str, str] | None) -> None:
    assert Compare.parse(reply, CHOICE) == expected


def test_a_choice_reply_names_exactly_one_option() -> None:
    options = ("Paris", "Berlin")
    assert Compare.parse_choice(answer("Berlin"), options) == "Berlin"
    assert Compare.parse_choice(answer("Paris is older than Berlin"), options) is None
    assert Compare.parse_choice(answer("None"), options) is None
    assert not Compare().applies("What is the capital of France?")


# ----------------------------------------------------------------------------- in the loop


async def test_each_option_is_searched_and_read_then_compared_in_code(web: list) -> None:
    events: list[Event] = []
    backend = small_backend([SPLIT, answer("3rd century BC"), answer("1237")])
    result = await Agent(backend, tools=web, limits="search=3").run(CHOICE, on_event=events.append)
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["compare", "read_first", "read_first"]
    queries = [c["arguments"]["query"] for s in result.steps for c in s.tool_calls]
    assert queries == [["When was Paris founded?"], ["When was Berlin founded?"]]
    assert result.usage.tool("search") == 2 and result.usage.requests == 3
    backend.assert_complete()


async def test_values_code_cannot_compare_go_to_one_charged_choice(web: list) -> None:
    events: list[Event] = []
    script = [SPLIT, answer("in Roman times"), answer("in the Middle Ages"), answer("Paris")]
    result = await Agent(small_backend(script), tools=web, limits="search=3").run(CHOICE, on_event=events.append)
    assert result.answer == "Paris" and result.steps[-1].final
    assert [e.purpose for e in events if isinstance(e, ModelCalled)][-1] == "compare_choose"
    assert result.usage.requests == 4


async def test_a_value_not_found_hands_the_question_to_the_loop_with_what_was_read(web: list) -> None:
    script = [SPLIT, answer("None"), json.dumps({"evidence": "", "answer": "Paris"})]
    backend = small_backend(script)
    result = await Agent(backend, tools=web, limits="search=3").run(CHOICE)
    assert result.answer == "Paris" and result.usage.tool("search") == 1
    backend.assert_complete()


async def test_a_single_search_unit_is_one_search_read_once_per_option(web: list) -> None:
    events: list[Event] = []
    backend = small_backend([SPLIT, answer("3rd century BC"), answer("1237")])
    result = await Agent(backend, tools=web, limits="search=1").run(CHOICE, on_event=events.append)
    assert result.answer == "Paris" and result.usage.tool("search") == 1
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["compare", "read_first", "read_first"]
    assert [c["arguments"]["query"] for s in result.steps for c in s.tool_calls] == [[CHOICE]]
    # both readings saw the search's results, each asked about its own option
    reads = backend.requests[1:]
    assert all("Paris" in r.messages[0].content and "<results>" in r.messages[0].content for r in reads)
    assert ["When was Paris founded?" in r.messages[0].content for r in reads] == [True, False]
    backend.assert_complete()


async def test_no_split_without_a_search_unit(web: list) -> None:
    events: list[Event] = []
    backend = small_backend([json.dumps({"evidence": "", "answer": "Paris"})])
    result = await Agent(backend, tools=web, limits="search=0").run(CHOICE, on_event=events.append)
    assert result.answer == "Paris" and result.usage.tool("search") == 0
    assert "compare" not in [e.purpose for e in events if isinstance(e, ModelCalled)]


def test_an_option_named_by_a_word_may_carry_the_kind_the_question_names() -> None:
    question = "Which lake is larger, Superior or Victoria?"
    reply = json.dumps({"a": "Lake Superior", "b": "Lake Victoria", "ask": "How large is #1?"})
    assert Compare.parse(reply, question) == ("Lake Superior", "Lake Victoria", "How large is #1?")
    invented = json.dumps({"a": "Lake Superior", "b": "Victoria Falls", "ask": "How large is #1?"})
    assert Compare.parse(invented, question) is None  # 'falls' is not in the question
