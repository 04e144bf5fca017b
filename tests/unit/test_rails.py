"""Each small-model rail alone (pure decisions), then in the loop with the ScriptedBackend and a real index."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import small_index
from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import Event, ModelCalled
from thrifty.agents.rails import (
    NO_RAILS,
    SMALL_MODEL_RAILS,
    Decompose,
    EchoCheck,
    OpeningSearch,
    Rails,
    RepeatPolicy,
    ShortAnswer,
    is_abstention,
    rails_for,
)
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.backends.profiles import DEFAULT_PROFILE, EMBEDDED_PROFILE
from thrifty.tools.web import BrowseTool, SearchTool


def step(**fields: object) -> str:
    return json.dumps(fields)


@pytest.fixture
def web(tmp_path: Path) -> list:
    index = small_index(tmp_path)
    return [SearchTool(index), BrowseTool(index)]


BASE = replace(SMALL_MODEL_RAILS, decompose=None, compare=None)  # decomposition's tests at the end; test_choice
LOOP = LoopConfig(rails=replace(BASE, read_first=None))
"""The small-model rails without read-first, for tests of the rails that act inside the loop."""
READ = LoopConfig(rails=BASE)


def small_backend(steps: list) -> ScriptedBackend:
    return ScriptedBackend(steps, profile=EMBEDDED_PROFILE, tool_protocol="json")


# ----------------------------------------------------------------------------- the rails alone


@pytest.mark.parametrize("text", ["None", "none.", "Unknown", "N/A", "not found", "I cannot determine the answer", ""])
def test_abstentions_are_recognised(text: str) -> None:
    assert is_abstention(text)


@pytest.mark.parametrize("text", ["Nonesuch", "Canberra", "1989", "No", "Unknown Pleasures"])
def test_answers_are_not_abstentions(text: str) -> None:
    assert not is_abstention(text)


def test_opening_search_needs_a_search_tool() -> None:
    rail = OpeningSearch()
    call = rail.call("  Who wrote Leaves of Grass? ", ["search", "browse"])
    assert call is not None and call.arguments == {"query": ["Who wrote Leaves of Grass?"]}
    assert rail.call("q", ["python"]) is None
    assert rail.call("   ", ["search"]) is None
    assert rail.call("q", ["search"], remaining=0) is None


def test_short_answer_keeps_the_fact_and_never_grows() -> None:
    rail = ShortAnswer(max_words=4)
    assert not rail.needs("Walt Whitman")
    assert rail.needs("The author of Leaves of Grass is Walt Whitman")
    long = "The author of Leaves of Grass is Walt Whitman"
    assert rail.parse('{"answer": "Walt Whitman."}', long) == "Walt Whitman"
    assert rail.parse('{"answer": "None"}', long) == long
    assert rail.parse("", long) == long
    assert rail.parse('{"answer": "Herman Melville"}', long) == long  # not in the long answer: invented
    golf = "Golf originated in Scotland in the 15th century"
    assert rail.parse('{"answer": "Golf"}', golf, "Where does golf come from?") == golf
    assert rail.parse('{"answer": "Scotland"}', golf, "Where does golf come from?") == "Scotland"
    request = rail.request("Who wrote it?", long, json_protocol=True)
    assert request.response_format is not None and request.max_tokens == rail.max_tokens


@pytest.mark.parametrize(
    ("question", "answer", "echoes"),
    [
        ("What is the capital of Nigeria?", "Nigeria", True),
        ("What is the capital of Nigeria?", "nigeria.", True),
        ("What is the capital of Nigeria?", "Abuja", False),
        ("Which country has more people, Peru or Chile?", "Chile", False),  # a choice: its options are answers
        ("Who wrote Leaves of Grass?", "Grass", True),
        ("Who wrote Leaves of Grass?", "Walt Whitman", False),
        ("What is the capital of Nigeria?", "Niger", False),  # a word inside another is not an echo
        ("What is the capital of Nigeria?", "None", False),
    ],
)
def test_an_echo_is_an_answer_the_question_already_states(question: str, answer: str, echoes: bool) -> None:
    assert EchoCheck().echoes(question, answer) is echoes


def test_profiles_select_rails() -> None:
    assert rails_for(EMBEDDED_PROFILE) is SMALL_MODEL_RAILS
    assert rails_for(DEFAULT_PROFILE) is NO_RAILS
    assert NO_RAILS.opening_search is None and NO_RAILS.short_answer is None


# ----------------------------------------------------------------------------- the rails in the loop


async def test_opening_search_runs_before_the_first_model_step_and_is_charged(web: list) -> None:
    backend = small_backend([step(evidence="Paris is the capital of France.", answer="Paris")])
    result = await Agent(backend, tools=web, limits="search=3,browse=3", config=LOOP).run(
        "What is the capital of France?"
    )
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    assert result.usage.tool("search") == 1 and result.usage.requests == 1
    first = backend.requests[0].messages
    assert "https://en.wikipedia.org/wiki/Paris" in first[-1].content  # the model saw the results first
    assert json.loads(first[-2].content)["tool"] == "search"
    backend.assert_complete()


async def test_no_opening_search_without_budget_for_it(web: list) -> None:
    backend = small_backend([step(evidence="", answer="Paris")])
    result = await Agent(backend, tools=web, limits="search=0,browse=3", config=READ).run("capital of France?")
    assert result.usage.tool("search") == 0
    assert not any(s.tool_calls for s in result.steps)


async def test_repeat_ends_with_an_answer_from_the_evidence(web: list) -> None:
    rails = replace(BASE, read_first=None, repeat=RepeatPolicy("answer"))
    again = step(evidence="", tool="search", arguments={"query": ["What is the capital of France?"]})
    backend = small_backend([again, step(evidence="Paris is the capital.", answer="Paris")])
    agent = Agent(backend, tools=web, limits="search=3,browse=3", config=LoopConfig(rails=rails))
    result = await agent.run("What is the capital of France?")
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    assert result.usage.tool("search") == 1  # the repeat was refused, not paid
    assert backend.requests[-1].tools == ()  # the answer call offers no tools


REFORMULATE = LoopConfig(rails=replace(BASE, read_first=None, repeat=RepeatPolicy("reformulate")))


async def test_a_repeated_search_gets_a_new_query_written_by_a_separate_call(web: list) -> None:
    question = "What is the capital of the country whose capital is Berlin's twin?"

    def next_query(request: ChatRequest) -> str:
        prompt = request.messages[0].content
        assert "Germany is next to France" in prompt and f"- {question}" in prompt
        return json.dumps({"query": "capital of France"})

    again = step(evidence="Germany is next to France", tool="search", arguments={"query": [question]})
    events: list[Event] = []
    backend = small_backend([again, next_query, step(evidence="Paris is the capital of France.", answer="Paris")])
    agent = Agent(backend, tools=web, limits="search=3", config=REFORMULATE)
    result = await agent.run(question, on_event=events.append)
    assert result.answer == "Paris"
    searches = [c["arguments"]["query"] for s in result.steps for c in s.tool_calls if not c.get("repeat")]
    assert searches == [[question], ["capital of France"]]
    assert result.usage.tool("search") == 2
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["agent", "reformulate", "agent"]


async def test_a_reformulation_that_repeats_a_query_ends_with_an_answer(web: list) -> None:
    again = step(evidence="", tool="search", arguments={"query": ["capital of France?"]})
    backend = small_backend([again, json.dumps({"query": "Capital of  FRANCE?"}), step(evidence="", answer="Paris")])
    result = await Agent(backend, tools=web, limits="search=3", config=REFORMULATE).run("capital of France?")
    assert (result.answer, result.usage.tool("search")) == ("Paris", 1)
    assert backend.requests[-1].tools == ()


def test_reformulated_queries_must_be_new() -> None:
    policy = RepeatPolicy("reformulate")
    assert policy.parse('{"query": "Neil Armstrong death"}', ["apollo 11 commander"]) == "Neil Armstrong death"
    assert policy.parse('{"query": "Apollo 11  Commander"}', ["apollo 11 commander"]) is None
    assert policy.parse("not json", []) is None
    assert "- (none)" in policy.request("q", "", []).messages[0].content


async def test_withhold_policy_keeps_going_after_a_repeat(web: list) -> None:
    rails = replace(BASE, read_first=None, repeat=RepeatPolicy("withhold"))
    again = step(evidence="", tool="search", arguments={"query": ["What is the capital of France?"]})
    backend = small_backend([again, step(evidence="", answer="Paris")])
    agent = Agent(backend, tools=web, limits="search=3,browse=3", config=LoopConfig(rails=rails))
    result = await agent.run("What is the capital of France?")
    assert result.answer == "Paris"
    assert [t.name for t in backend.requests[1].tools] == ["browse"]  # search withheld for one step


async def test_abstaining_with_evidence_in_view_gets_one_more_call(web: list) -> None:
    backend = small_backend([step(evidence="", answer="None"), step(evidence="Paris is the capital", answer="Paris")])
    result = await Agent(backend, tools=web, limits="search=3", config=LOOP).run("What is the capital of France?")
    assert result.answer == "Paris"
    assert "never answer None" in backend.requests[-1].messages[-1].content


async def test_abstaining_is_kept_when_the_caller_allows_it(web: list) -> None:
    backend = small_backend([step(evidence="", answer="None")])
    agent = Agent(backend, tools=web, limits="search=3", config=replace(LOOP, abstain=True))
    result = await agent.run("What is the capital of Atlantis?")
    assert (result.answer, result.usage.requests) == ("None", 1)


async def test_an_answer_echoing_the_question_is_sent_back_once(web: list) -> None:
    backend = small_backend(
        [step(evidence="", answer="France"), step(evidence="", answer="France"), step(evidence="", answer="x")]
    )
    result = await Agent(backend, tools=web, limits="search=3", config=LOOP).run("What is the capital of France?")
    assert result.answer == "France" and result.stop_reason == "answered"
    assert result.usage.requests == 2  # sent back once, then accepted as it stands
    assert "already named in the question" in backend.requests[1].messages[-1].content


async def test_read_first_answers_from_the_opening_results_in_one_call(web: list) -> None:
    def read(request: ChatRequest) -> str:
        assert "https://en.wikipedia.org/wiki/Paris" in request.messages[0].content  # the results, as data
        return json.dumps({"answer": "Paris"})

    events: list[Event] = []
    backend = small_backend([read])
    result = await Agent(backend, tools=web, limits="search=3", config=READ).run(
        "What is the capital of France?", on_event=events.append
    )
    assert (result.answer, result.stop_reason) == ("Paris", "answered")
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["read_first"]
    assert result.usage.tool("search") == 1 and result.steps[-1].final
    backend.assert_complete()


@pytest.mark.parametrize("reply", ['{"answer": "None"}', "not json"])  # an echo: test_read_first.py
async def test_read_first_goes_on_to_the_loop_when_the_results_do_not_settle_it(web: list, reply: str) -> None:
    backend = small_backend([reply, step(evidence="Paris is the capital.", answer="Paris")])
    result = await Agent(backend, tools=web, limits="search=3", config=READ).run("What is the capital of France?")
    assert (result.answer, result.usage.requests) == ("Paris", 2)
    assert backend.requests[1].tools  # the loop's own step, with tools


async def test_choice_questions_skip_read_first(web: list) -> None:
    backend = small_backend([step(evidence="", answer="Paris")])
    result = await Agent(backend, tools=web, limits="search=3", config=READ).run(
        "Is Paris or Lyon the capital of France?"
    )
    assert (result.answer, result.usage.requests) == ("Paris", 1)


async def test_long_answers_get_a_charged_short_answer_pass(web: list) -> None:
    def shorten(request: ChatRequest) -> str:
        assert "Long answer: Paris, a city known for the Eiffel Tower" in request.messages[0].content
        return json.dumps({"answer": "Paris"})

    events: list[Event] = []
    backend = small_backend(
        [step(evidence="", answer="Paris, a city known for the Eiffel Tower and its museums"), shorten]
    )
    result = await Agent(backend, tools=web, limits="search=3", config=LOOP).run(
        "capital of France?", on_event=events.append
    )
    assert result.answer == "Paris"
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["agent", "short_answer"]
    assert result.usage.requests == 2


async def test_capable_models_run_the_plain_loop(web: list) -> None:
    reply = '{"evidence": "", "answer": "a long answer with many words in it here"}'
    backend = ScriptedBackend([reply], tool_protocol="json")
    result = await Agent(backend, tools=web, limits="search=3").run("q")
    assert result.usage.tool("search") == 0 and result.usage.requests == 1
    assert result.answer == "a long answer with many words in it here"


def test_rails_default_to_none() -> None:
    assert Rails() == NO_RAILS


# ----------------------------------------------------------------------------- decomposition

SPLIT = json.dumps({"first": "In which country is the Brandenburg Gate?", "then": "What is the capital of #1?"})
NO_SPLIT = json.dumps({"first": "", "then": ""})
GATE = "What is the capital of the country where the Brandenburg Gate stands?"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (SPLIT, ("In which country is the Brandenburg Gate?", "What is the capital of #1?")),
        (NO_SPLIT, None),
        (json.dumps({"first": "Who built it?", "then": "What is the capital?"}), None),  # no #1 to fill in
        (json.dumps({"first": GATE, "then": "#1"}), None),  # only repeats the question
        ("not json", None),
    ],
)
def test_decompose_parses_a_split_or_nothing(reply: str, expected: tuple[str, str] | None) -> None:
    assert Decompose.parse(reply, GATE) == expected


VW = "What's the capital of the country where Volkswagen is based?"


@pytest.mark.parametrize(
    ("question", "first", "then", "expected"),
    [
        # the first part copies the question: it becomes a question about the description #1 replaced
        (
            VW,
            VW,
            "What is the capital of #1?",
            ("What is the country where Volkswagen is based?", "What is the capital of #1?"),
        ),
        # #1 stands for a description spread over the question (a possessive and a trailing "of ...")
        (
            "What's the capital of the home country of the author of Ulysses?",
            "Who wrote Ulysses?",
            "What is the capital of #1's home country?",
            ("Who wrote Ulysses?", "What is the capital of #1's home country?"),
        ),
        # #1 stands for a name: nothing to find first (the 1.5B splits these too)
        ("What is the capital of Pakistan?", "What is the capital of Pakistan?", "What is the capital of #1?", None),
        ("Which English king sealed Magna Carta?", "Who sealed Magna Carta?", "Which English king sealed #1?", None),
        (
            "What city did the Beatles come from?",
            "Where did the Beatles come from?",
            "What city did #1 come from?",
            None,
        ),
        # a rest that only renames the answer (CI: "largest planet" took 3 units); "#1 in?" asks anew
        (
            "Which planet is the largest in the Solar System?",
            "Which is the largest planet in the Solar System?",
            "Which planet is #1?",
            None,
        ),
        (
            "Which planet is the largest in the Solar System?",
            "What is the largest planet?",
            "Which planet is #1 in the Solar System?",
            None,
        ),
        (
            "In which country is the tallest building in the world?",
            "What is the tallest building in the world?",
            "What country is #1 in?",
            ("What is the tallest building in the world?", "What country is #1 in?"),
        ),
        # a rest that keeps almost nothing of the question, or is no question
        ("On what date did The Magic Flute premiere?", "When did The Magic Flute premiere?", "On #1?", None),
        ("When was Hamlet written by its author?", "Who wrote Hamlet?", "#1 wrote Hamlet in a year.", None),
    ],
)
def test_a_split_is_kept_only_where_the_question_describes_what_it_asks_about(
    question: str, first: str, then: str, expected: tuple[str, str] | None
) -> None:
    assert Decompose.parse(json.dumps({"first": first, "then": then}), question) == expected


def test_decompose_fills_in_the_name_and_leaves_choices_alone() -> None:
    assert Decompose.substitute("What is the capital of #1?", " Germany.") == "What is the capital of Germany?"
    assert not Decompose().applies("Which is older, Paris or Berlin?")


async def test_a_split_question_is_searched_and_read_one_part_at_a_time(web: list) -> None:
    events: list[Event] = []
    script = [SPLIT, json.dumps({"answer": "Germany"}), NO_SPLIT, json.dumps({"answer": "Berlin"})]
    backend = small_backend(script)
    result = await Agent(backend, tools=web, limits="search=3").run(GATE, on_event=events.append)
    assert (result.answer, result.stop_reason) == ("Berlin", "answered")
    purposes = [e.purpose for e in events if isinstance(e, ModelCalled)]
    assert purposes == ["decompose", "read_first", "decompose", "read_first"]
    queries = [c["arguments"]["query"] for s in result.steps for c in s.tool_calls]
    assert queries == [["In which country is the Brandenburg Gate?"], ["What is the capital of Germany?"]]
    assert result.usage.tool("search") == 2 and result.usage.requests == 4 and result.steps[-1].final
    assert not any(s.final for s in result.steps[:-1])
    backend.assert_complete()


async def test_a_part_not_found_falls_back_to_searching_the_whole_question(web: list) -> None:
    script = [SPLIT, json.dumps({"answer": "None"}), json.dumps({"answer": "Berlin"})]
    backend = small_backend(script)
    result = await Agent(backend, tools=web, limits="search=3").run(GATE)
    assert result.answer == "Berlin" and result.usage.tool("search") == 2
    assert result.steps[-2].tool_calls[0]["arguments"]["query"] == [GATE]
    backend.assert_complete()


async def test_no_split_without_a_search_unit_for_each_part(web: list) -> None:
    backend = small_backend([json.dumps({"answer": "Berlin"})])
    result = await Agent(backend, tools=web, limits="search=1").run(GATE)
    assert result.usage.tool("search") == 1 and result.usage.requests == 1 and result.answer == "Berlin"


async def test_a_split_never_spends_a_search_unit_it_does_not_have(web: list) -> None:
    events: list[Event] = []
    backend = small_backend([SPLIT, json.dumps({"answer": "Germany"}), json.dumps({"answer": "Berlin"})])
    result = await Agent(backend, tools=web, limits="search=2").run(GATE, on_event=events.append)
    assert result.usage.tool("search") == 2 and result.answer == "Berlin"
    # after the first part one unit is left: the rest is searched and read, not split again
    assert [e.purpose for e in events if isinstance(e, ModelCalled)] == ["decompose", "read_first", "read_first"]
