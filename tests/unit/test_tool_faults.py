"""Fault injection in tools: a search backend that is down, a tool that hangs. The run goes on or ends on time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from thrifty.agents.agent import Agent
from thrifty.agents.controller import LoopConfig
from thrifty.backends import ScriptedBackend
from thrifty.backends.process import free_port
from thrifty.budget import Limits
from thrifty.search.http import HttpJson
from thrifty.search.providers import SearxngSearch
from thrifty.tools.base import FunctionTool
from thrifty.tools.web import SearchTool


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


async def hang(arguments: Mapping[str, Any]) -> str:
    await asyncio.sleep(3600)
    return "never"


HANGING = FunctionTool("slow", "A tool that never returns.", {"type": "object", "properties": {}}, hang)


async def test_search_backend_down_becomes_an_observation_and_the_run_answers() -> None:
    down = SearxngSearch(f"http://127.0.0.1:{free_port()}", http=HttpJson(retries=1, backoff=0.01, timeout=2.0))
    backend = ScriptedBackend([call("search", query=["Paris"]), "<answer>Paris</answer>"])
    result = await Agent(backend, tools=[SearchTool(down)], limits="search=3").run("Capital of France?")
    [record] = result.steps[0].tool_calls
    assert record["is_error"] and "Error" in record["output"]
    assert "Error" in backend.requests[1].messages[-1].content  # the model was told, and went on
    assert result.stop_reason == "answered" and result.usage.tool("search") == 1  # spent at dispatch (BATS)


async def test_a_hanging_tool_times_out_and_the_model_is_told() -> None:
    backend = ScriptedBackend([call("slow"), "<answer>gave up on slow</answer>"])
    agent = Agent(backend, tools=[HANGING], config=LoopConfig(tool_timeout_seconds=0.3))
    started = time.monotonic()
    result = await agent.run("Q?")
    assert time.monotonic() - started < 5
    assert result.steps[0].tool_calls[0]["output"] == "Error: slow timed out"
    assert result.stop_reason == "answered"


async def test_a_hanging_tool_cannot_outlive_the_time_budget() -> None:
    backend = ScriptedBackend([call("slow"), "<answer>late</answer>"] * 3)
    agent = Agent(backend, tools=[HANGING], limits=Limits(seconds=1.0))  # tool timeout (120 s) is longer
    started = time.monotonic()
    result = await agent.run("Q?")
    assert time.monotonic() - started < 4
    assert result.stop_reason == "budget_exhausted" and result.exhausted == "seconds"


async def test_cancelling_a_run_cancels_its_tool() -> None:
    backend = ScriptedBackend([call("slow")])
    task = asyncio.create_task(Agent(backend, tools=[HANGING]).run("Q?"))
    await asyncio.sleep(0.2)
    task.cancel()
    started = time.monotonic()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1 and task.cancelled()
