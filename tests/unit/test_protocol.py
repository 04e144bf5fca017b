import pytest

from thrifty.agents.protocol import parse_json_reply, parse_text_reply, strip_answer_tags


def test_tagged_tool_call_with_thought() -> None:
    reply = parse_text_reply(
        '<think>need data</think>\n<tool_code>\n{"name": "search", "arguments": {"query": ["a", "b"]}}\n</tool_code>'
    )
    assert reply.thought == "need data"
    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [("search", {"query": ["a", "b"]})]
    assert reply.answer is None and reply.errors == ()


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "search", "arguments": {"query": "x"}}',
        '```json\n{"name": "search", "arguments": {"query": "x"}}\n```',
        '<tool_call>{"name": "search", "parameters": {"query": "x"}}</tool_call>',
        '<tool_code>{"name": "search", "arguments": "{\\"query\\": \\"x\\"}"}',  # unclosed tag, string args
    ],
)
def test_lenient_tool_call_forms(text: str) -> None:
    reply = parse_text_reply(text)
    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [("search", {"query": "x"})]


def test_answer_forms() -> None:
    assert parse_text_reply("<think>ok</think><answer> Paris </answer>").answer == "Paris"
    assert parse_text_reply("<answer>Paris").answer == "Paris"
    assert parse_text_reply("Thought: done\nFinal Answer: 42").answer == "42"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("<tool_code>{name: search}</tool_code>", "not valid JSON"),
        ('<tool_code>{"arguments": {}}</tool_code>', '"name"'),
        ('<tool_code>{"name": "search", "arguments": [1]}</tool_code>', "JSON object"),
        ('{"name": "search", "arguments": {"query": ["a"', "not valid JSON"),
    ],
)
def test_malformed_calls_become_errors(text: str, needle: str) -> None:
    reply = parse_text_reply(text)
    assert reply.tool_calls == ()
    assert reply.errors and needle in reply.errors[0]


def test_text_after_a_hallucinated_tool_response_is_ignored() -> None:
    reply = parse_text_reply(
        '<tool_code>{"name": "search", "arguments": {"query": ["q"]}}</tool_code>'
        "<tool_response>made up</tool_response><answer>wrong</answer>"
    )
    assert len(reply.tool_calls) == 1
    assert reply.answer is None


def test_strip_answer_tags_falls_back_to_text() -> None:
    assert strip_answer_tags("<think>x</think>Just prose.") == "Just prose."
    assert strip_answer_tags("<answer>A</answer>") == "A"


def test_json_protocol_replies() -> None:
    from thrifty.agents.protocol import parse_json_reply

    call = parse_json_reply('{"think": "look it up", "tool": "search", "arguments": {"query": ["x"]}}')
    assert call.thought == "look it up"
    assert [(c.name, dict(c.arguments)) for c in call.tool_calls] == [("search", {"query": ["x"]})]
    assert parse_json_reply('{"think": "known", "answer": " Lima "}').answer == "Lima"
    assert parse_json_reply('{"think": "cut off", "tool": "sea').errors
    assert parse_json_reply('{"think": "?"}').errors


def test_step_schema_offers_each_tool_and_only_the_answer_when_final() -> None:
    from thrifty.agents.protocol import step_schema
    from thrifty.backends import ToolSpec

    spec = ToolSpec(
        "search", "s", {"type": "object", "properties": {"query": {"type": "array"}}, "required": ["query"]}
    )
    schema = step_schema((spec,))
    tools = [o["properties"]["tool"]["const"] for o in schema["anyOf"] if "tool" in o["properties"]]
    assert tools == ["search"]
    final = step_schema((spec,), final=True)
    assert final["required"] == ["evidence", "answer"] and "tool" not in final["properties"]


def test_nested_answer_tags_give_the_outer_answer_without_tags() -> None:
    assert parse_text_reply("<answer><answer>x</answer> y</answer>").answer == "x y"
    assert parse_text_reply("<answer>a</answer> then <answer>b</answer>").answer == "b"
    assert parse_text_reply("<think>t</think><answer>Paris").answer == "Paris"


@pytest.mark.parametrize("value", ["null", "[]", "{}", "true"])
def test_a_json_answer_that_is_not_text_is_a_format_error(value: str) -> None:
    parsed = parse_json_reply('{"evidence": "e", "answer": ' + value + "}")
    assert parsed.answer is None and '"answer" must be a string' in parsed.errors[0]


def test_a_numeric_json_answer_is_its_text() -> None:
    assert parse_json_reply('{"evidence": "e", "answer": 1969}').answer == "1969"
