"""``@tool``: a typed async function becomes a tool whose schema and argument validation pydantic
builds from the signature; the built-in tools are made the same way and kept their schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field

from thrifty import Agent, ScriptedBackend, tool
from thrifty.backends.base import ChatRequest, Completion
from thrifty.errors import ToolError
from thrifty.tools.base import ToolContext, ToolResult
from thrifty.tools.calculator import CalculatorTool
from thrifty.tools.files import ReadFileTool
from thrifty.tools.python import PythonTool
from thrifty.tools.typed import Batch
from thrifty.tools.web import BrowseTool, SearchTool

FIXTURES = Path(__file__).parent.parent / "fixtures"


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


@tool
async def population(city: Annotated[str, Field(description="A city name.")], year: int = 2020) -> str:
    """Population of a city in a given year."""
    return f"{city} had {len(city) * 1000} people in {year}"


@tool(batch="query")
async def lookup(query: Annotated[Batch, Field(description="Terms to look up.")], ctx: ToolContext) -> ToolResult:
    """Look up each term."""
    completion = await ctx.complete(ChatRequest(messages=()))
    return ToolResult(f"{query} via {completion.text}")


def test_the_built_in_tools_kept_their_schemas_exactly() -> None:
    # tool_specs.json was written by the hand-written specs before the tools moved to @tool
    before = json.loads((FIXTURES / "tool_specs.json").read_text())
    tools = [
        SearchTool(None),
        BrowseTool(None),
        CalculatorTool(),
        ReadFileTool(Path("/tmp")),
        PythonTool(unsafe_no_sandbox=True),
    ]  # type: ignore[arg-type]
    after = {t.spec.name: t.spec.openai_schema() for t in tools}
    assert json.dumps(after, indent=1) == json.dumps(before, indent=1)  # same text, key order included


def test_the_schema_and_description_come_from_the_signature() -> None:
    assert population.spec.name == "population"
    assert population.spec.description == "Population of a city in a given year."
    assert population.spec.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "A city name."},
            "year": {"type": "integer", "default": 2020},
        },
        "required": ["city"],
    }
    assert "ctx" not in lookup.spec.parameters["properties"]  # the context is injected, not asked for


async def test_valid_arguments_are_converted_and_defaults_filled() -> None:
    result = await population.run({"city": "Lima"}, ToolContext(complete=_never))
    assert result == ToolResult("Lima had 4000 people in 2020")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "population: missing required argument(s): city"),
        ({"city": ["Lima"]}, "population: argument 'city': Input should be a valid string"),
        ({"city": "Lima", "year": "soon"}, "population: argument 'year': Input should be a valid integer"),
    ],
)
async def test_bad_arguments_are_a_tool_error_naming_the_argument(arguments: dict, message: str) -> None:
    with pytest.raises(ToolError) as info:
        await population.run(arguments, ToolContext(complete=_never))
    assert str(info.value).startswith(message)


def test_a_batched_argument_counts_units_and_is_cut_to_what_the_budget_grants() -> None:
    assert lookup.units({"query": ["a", "b", " ", "c"]}) == 3  # blank items are dropped
    with pytest.raises(ToolError, match="argument 'query': Input should be a valid list"):
        lookup.units({"query": "one string"})  # as the hand-written check did: the schema says array
    assert lookup.limit_units({"query": ["a", "b", "c"]}, 2) == {"query": ["a", "b"]}
    with pytest.raises(ToolError, match="argument 'query' is empty"):
        lookup.units({"query": []})


def test_a_tool_needs_a_description_and_a_real_batch_argument() -> None:
    async def bare(x: int) -> str:
        return str(x)

    with pytest.raises(ValueError, match="needs a description"):
        tool(bare)
    with pytest.raises(ValueError, match="no argument 'y'"):
        tool(description="d", batch="y")(bare)


async def test_in_a_run_bad_arguments_are_an_observation_and_units_are_charged_per_item() -> None:
    backend = ScriptedBackend(
        [call("population", town="Lima"), call("lookup", query=["a", "b"]), "ok", "<answer>Lima</answer>"]
    )
    result = await Agent(backend, tools=[population, lookup], limits="lookup=5,population=5").run("Q?")
    [bad] = result.steps[0].tool_calls
    assert bad["is_error"] and "missing required argument(s): city" in bad["output"] and bad["units"] == 0
    [good] = result.steps[1].tool_calls
    assert good["output"] == "['a', 'b'] via ok" and good["units"] == 2
    assert result.stop_reason == "answered" and result.usage.tool("lookup") == 2


async def _never(request: ChatRequest) -> Completion:
    raise AssertionError("not called")
