"""Fault injection against a real OpenAI-compatible server process (the loopback stub of benchmarks/):
the server is killed mid-run, then restarted (or not)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from thrifty.agents.agent import Agent
from thrifty.backends import OpenAICompatBackend
from thrifty.backends.process import free_port
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import Limits
from thrifty.evals.log import read_log
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task
from thrifty.tools.base import FunctionTool

pytestmark = pytest.mark.live_model

STUB = Path(__file__).parents[2] / "benchmarks" / "stub_server.py"


class Stub:
    """benchmarks/stub_server.py in its own process on a fixed port (so a restart comes back there)."""

    def __init__(self, port: int, latency: float, faults: str = "") -> None:
        self.port, self.latency, self.faults = port, latency, faults
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(STUB),
                "--steps",
                "2",
                "--latency",
                str(self.latency),
                "--port",
                str(self.port),
                "--faults",
                self.faults,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # the base URL: listening

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub(free_port(), latency=0.6)
    s.start()
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.kill()


async def lookup(arguments: Mapping[str, Any]) -> str:
    return "result"


def agent_for(stub: Stub, retries: int = 3) -> tuple[Agent, OpenAICompatBackend]:
    backend = OpenAICompatBackend(
        stub.base_url,
        "stub",
        profile=ModelProfile(family="stub", tool_protocol="native"),
        max_retries=retries,
        server_kind="none",
    )
    tool = FunctionTool("lookup", "Look something up.", {"type": "object", "properties": {"query": {}}}, lookup)
    return Agent(backend, tools=[tool], strategy="react", limits=Limits(tools={"lookup": 5})), backend


async def test_server_killed_mid_call_and_restarted_finishes_without_double_charging(stub: Stub) -> None:
    agent, backend = agent_for(stub)
    run = asyncio.create_task(agent.run("What is the answer?"))
    await asyncio.sleep(0.3)  # the first call is in flight
    stub.kill()
    await asyncio.sleep(0.2)
    stub.start()  # the client's retry (with backoff) reaches the new process
    result = await run
    await backend.aclose()
    assert result.stop_reason == "answered" and result.answer == "42"
    # Three logical calls (two tool rounds, one answer): three charges, whatever was retried underneath.
    assert result.usage.requests == 3 and result.usage.tool("lookup") == 2
    assert len([e for e in result.ledger if e.kind == "model"]) == 3


async def test_server_gone_is_an_error_result_and_the_eval_runner_retries_the_sample(
    stub: Stub, tmp_path: Path
) -> None:
    agent, backend = agent_for(stub, retries=0)  # no client-level retries: the runner's retry is what is tested
    stub.kill()
    result = await agent.run("What is the answer?")
    assert result.stop_reason == "error" and result.error  # a result, not an exception

    task = Task("t1", "What is the answer?", "42", (), "test", "easy", (), {})
    log = tmp_path / "log.jsonl"

    async def restart_soon() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(stub.start)

    restarting = asyncio.create_task(restart_soon())
    progress = await run_eval(
        [task],
        [Condition("react", "5", Limits(tools={"lookup": 5}))],
        backends=[backend],
        tools=list(agent.tools),
        log_path=log,
        retries=2,
    )
    await restarting
    await backend.aclose()
    [sample] = list(read_log(log))
    assert progress.done == 1 and sample.correct and sample.attempts >= 2


async def test_429_5xx_and_timeouts_are_retried_with_backoff_and_charged_once() -> None:
    stub = Stub(free_port(), latency=0.0, faults="429,503,hang,500")
    stub.start()
    try:
        backend = OpenAICompatBackend(
            stub.base_url,
            "stub",
            profile=ModelProfile(family="stub", tool_protocol="native"),
            max_retries=4,
            timeout=1.0,
            server_kind="none",
        )
        tool = FunctionTool("lookup", "Look something up.", {"type": "object", "properties": {}}, lookup)
        result = await Agent(backend, tools=[tool], strategy="react").run("What is the answer?")
        await backend.aclose()
    finally:
        stub.kill()
    # The first logical call met 429, 503, a hang (client timeout) and 500 before a 200: retried with
    # jittered backoff inside the client, charged once. Three logical calls in all.
    assert result.stop_reason == "answered" and result.answer == "42"
    assert result.usage.requests == 3
