"""OpenTelemetry spans from a run's events, checked with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from thrifty.agents.agent import Agent
from thrifty.agents.telemetry import Telemetry, configure_provider, telemetry_from_env
from thrifty.backends import ScriptedBackend
from thrifty.errors import ConfigError
from thrifty.tools.base import FunctionTool

ROOT = Path(__file__).resolve().parents[2]


async def _echo(arguments: object) -> str:
    return "Santiago is the capital of Chile."


async def _fail(arguments: object) -> str:
    raise RuntimeError("backend down")


async def _hang(arguments: object) -> str:
    await asyncio.sleep(3600)
    return "never"


def tool(name: str, fn: object) -> FunctionTool:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    return FunctionTool(name, f"the {name} tool", schema, fn)  # type: ignore[arg-type]


def call(name: str, **args: object) -> str:
    return "<tool_code>" + json.dumps({"name": name, "arguments": args}) + "</tool_code>"


@pytest.fixture
def spans() -> Iterator[tuple[Telemetry, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Telemetry(provider), exporter
    provider.shutdown()


def named(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


async def test_a_run_is_a_span_with_model_and_tool_children_after_the_genai_conventions(
    spans: tuple[Telemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = spans
    backend = ScriptedBackend([call("lookup", q="capital of Chile"), "<answer>Santiago</answer>"])
    agent = Agent(backend, tools=[tool("lookup", _echo)], limits="lookup=3,tokens=20000", telemetry=telemetry)
    result = await agent.run("What is the capital of Chile?")
    finished = exporter.get_finished_spans()
    assert [s.name for s in finished].count(f"chat {backend.model}") == 2
    by = named(exporter)
    run, chat, lookup = by["invoke_agent thrifty"], by[f"chat {backend.model}"], by["execute_tool lookup"]
    assert run.attributes is not None and chat.attributes is not None and lookup.attributes is not None
    assert chat.parent is not None and chat.parent.span_id == run.context.span_id
    assert lookup.parent is not None and lookup.parent.span_id == run.context.span_id
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.request.model"] == backend.model
    assert run.attributes["thrifty.budget.limit.tool.lookup"] == 3
    assert run.attributes["thrifty.budget.limit.total_tokens"] == 20000
    assert run.attributes["thrifty.budget.remaining.tool.lookup"] == 2
    assert run.attributes["thrifty.budget.remaining.total_tokens"] == 20000 - result.usage.total_tokens
    assert run.attributes["thrifty.budget.regime"] in ("HIGH", "MEDIUM")
    assert run.attributes["thrifty.stop_reason"] == "answered" and run.attributes["thrifty.answered"] is True
    assert run.attributes["thrifty.cost_usd"] == pytest.approx(result.cost_usd)
    assert run.attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert run.attributes["thrifty.usage.tool.lookup"] == 1
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    chats = [s.attributes for s in finished if s.name.startswith("chat") and s.attributes is not None]
    assert sum(int(str(a["gen_ai.usage.output_tokens"])) for a in chats) == result.usage.output_tokens
    assert lookup.attributes["gen_ai.operation.name"] == "execute_tool"
    assert lookup.attributes["gen_ai.tool.name"] == "lookup"
    assert lookup.attributes["thrifty.tool.arguments_size"] == len(b'{"q": "capital of Chile"}')
    assert lookup.attributes["thrifty.tool.units_granted"] == 1
    assert run.start_time is not None and lookup.start_time is not None and lookup.start_time >= run.start_time
    assert lookup.end_time is not None and run.end_time is not None and lookup.end_time <= run.end_time


async def test_a_failing_tool_is_an_error_span_and_the_run_still_ends_ok(
    spans: tuple[Telemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = spans
    backend = ScriptedBackend([call("flaky", q="x"), "<answer>no idea</answer>"])
    await Agent(backend, tools=[tool("flaky", _fail)], telemetry=telemetry).run("Q?")
    by = named(exporter)
    flaky = by["execute_tool flaky"]
    assert flaky.status.status_code is StatusCode.ERROR and flaky.attributes is not None
    assert flaky.attributes["error.type"] == "tool_error"
    assert by["invoke_agent thrifty"].status.status_code is StatusCode.UNSET


async def test_a_cancelled_run_still_ends_its_span_as_an_error(spans: tuple[Telemetry, InMemorySpanExporter]) -> None:
    telemetry, exporter = spans
    agent = Agent(ScriptedBackend([call("slow", q="x")]), tools=[tool("slow", _hang)], telemetry=telemetry)
    task = asyncio.create_task(agent.run("Q?"))
    await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    run = named(exporter)["invoke_agent thrifty"]
    assert run.status.status_code is StatusCode.ERROR and run.attributes is not None
    assert run.attributes["error.type"] == "CancelledError"


async def test_the_run_span_joins_the_callers_trace(spans: tuple[Telemetry, InMemorySpanExporter]) -> None:
    telemetry, exporter = spans
    with telemetry.tracer.start_as_current_span("my request") as outer:
        await Agent(ScriptedBackend(["<answer>4</answer>"]), telemetry=telemetry).run("2+2?")
    run = named(exporter)["invoke_agent thrifty"]
    assert run.parent is not None and run.parent.span_id == outer.get_span_context().span_id


def test_model_spans_name_the_server_that_served_them(spans: tuple[Telemetry, InMemorySpanExporter]) -> None:
    from thrifty.agents.events import ModelCalled, RunStarted
    from thrifty.backends.base import Completion
    from thrifty.budget import Limits, Usage

    telemetry, exporter = spans
    run = telemetry.for_run("http://gpu2:8000/v1")
    run(RunStarted("Q?", "react", "qwen", Limits()))
    run(ModelCalled(0, "step", Completion("hi", "qwen", Usage(requests=1, input_tokens=5)), 5, True, None, 0.01))
    run.close()
    [chat] = [s for s in exporter.get_finished_spans() if s.name == "chat qwen"]
    assert chat.attributes is not None
    assert chat.attributes["server.address"] == "gpu2" and chat.attributes["server.port"] == 8000
    assert telemetry.for_run("https://api.example.com/v1").server == {
        "server.address": "api.example.com",
        "server.port": 443,
    }
    assert telemetry.for_run(None).server == {} and telemetry.for_run("http://[bad").server == {}


def test_configuration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert telemetry_from_env({}) is None
    assert telemetry_from_env({"THRIFTY_OTEL": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}) is None
    monkeypatch.delenv("THRIFTY_OTEL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert Agent(ScriptedBackend([])).telemetry is None  # the default: off
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp-proto-http"):
        configure_provider()


def test_off_imports_nothing_and_console_prints_spans() -> None:
    """In a fresh interpreter: no OpenTelemetry import while off; THRIFTY_OTEL=console prints the spans."""
    script = (
        "import asyncio, os, sys\n"
        "from thrifty import Agent\n"
        "from thrifty.backends import ScriptedBackend\n"
        "agent = Agent(ScriptedBackend(['<answer>4</answer>']))\n"
        "asyncio.run(agent.run('2+2?'))\n"
        "assert agent.telemetry is None and not any(m.startswith('opentelemetry') for m in sys.modules)\n"
        "os.environ['THRIFTY_OTEL'] = 'console'\n"
        "asyncio.run(Agent(ScriptedBackend(['<answer>4</answer>'])).run('2+2?'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THRIFTY_OTEL", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"name": "invoke_agent thrifty"' in done.stderr and '"gen_ai.request.model"' in done.stderr
    assert done.stdout == ""


def test_the_readme_example_prints_spans_to_the_console() -> None:
    """The README's snippet as written, in a fresh interpreter (the console exporter binds stdout at
    import), with a scripted model in place of the embedded one."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [snippet] = [s for s in re.findall(r"```python\n(.*?)```", readme, re.S) if "Telemetry(provider)" in s]
    script = (
        "import contextlib, thrifty\n"
        "from thrifty.backends import ScriptedBackend\n"
        "thrifty.open_backend_sync = contextlib.contextmanager(lambda config=None: iter([ScriptedBackend(['<answer>Santiago</answer>'])]))\n"
        + snippet
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THRIFTY_OTEL", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"name": "invoke_agent thrifty"' in done.stdout and '"thrifty.stop_reason": "answered"' in done.stdout
    assert done.stdout.rstrip().endswith("Santiago answered")
