"""Every model request of one agent run carries the run's session id, so a router in front of
data-parallel replicas (consistent hashing on ``X-Session-ID``) keeps the run on one replica's prefix
cache; concurrent runs carry different ids. Served for real over loopback by a stub that records headers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from thrifty.agents.agent import Agent
from thrifty.backends import OpenAICompatBackend
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import Limits
from thrifty.evals.log import read_log
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task
from thrifty.tools.base import FunctionTool

_REAL_COMPLETE = OpenAICompatBackend.complete


@pytest.fixture(autouse=True)
def _allow_the_loopback_stub(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest forbids real model backends; these talk to a loopback stub, not a model."""
    monkeypatch.setattr(OpenAICompatBackend, "complete", _REAL_COMPLETE)


def _reply(body: dict[str, object]) -> dict[str, object]:
    """One tool call, then an answer naming the question (so each run is told apart)."""
    messages = body["messages"]
    assert isinstance(messages, list)
    if not any(m.get("role") == "tool" for m in messages):
        call = {"id": "c0", "type": "function", "function": {"name": "lookup", "arguments": '{"query": "q"}'}}
        message: dict[str, object] = {"role": "assistant", "content": None, "tool_calls": [call]}
    else:
        message = {"role": "assistant", "content": "42"}
    return {
        "choices": [{"message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }


@asynccontextmanager
async def recording_stub(seen: list[dict[str, str]]) -> AsyncIterator[str]:
    """A loopback OpenAI-compatible stub that records every chat request's headers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                body = json.loads(await reader.readexactly(int(headers.get("content-length", 0))) or b"{}")
                seen.append(headers)
                await asyncio.sleep(0.01)  # concurrent runs interleave
                data = json.dumps(_reply(body)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                writer.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"


async def _lookup(arguments: object) -> str:
    return "result"


TOOLS = [
    FunctionTool(
        "lookup", "Look something up.", {"type": "object", "properties": {"query": {"type": "string"}}}, _lookup
    )
]
PROFILE = ModelProfile(family="stub", tool_protocol="native")


def _backend(url: str, **kwargs: object) -> OpenAICompatBackend:
    return OpenAICompatBackend(url, "stub", profile=PROFILE, max_retries=0, server_kind="none", **kwargs)  # type: ignore[arg-type]


async def test_each_run_sends_one_session_id_on_every_request() -> None:
    seen: list[dict[str, str]] = []
    async with asyncio.timeout(20), recording_stub(seen) as url:
        backend = _backend(url)
        agent = Agent(backend, tools=TOOLS, strategy="react", limits=Limits(requests=4))
        results = await asyncio.gather(*(agent.run(f"question {i}?") for i in range(3)))
        await backend.aclose()
    assert [r.answer for r in results] == ["42"] * 3
    ids = [h.get("x-session-id") for h in seen]
    assert len(ids) == 6 and None not in ids  # two calls per run, every one carries an id
    assert sorted(ids.count(i) for i in set(ids)) == [2, 2, 2]  # three runs, one id each


async def test_the_header_name_is_configurable_and_can_be_switched_off() -> None:
    seen: list[dict[str, str]] = []
    async with asyncio.timeout(20), recording_stub(seen) as url:
        for header in ("X-Affinity", None):
            backend = _backend(url, session_header=header)
            await Agent(backend, tools=TOOLS, strategy="react", limits=Limits(requests=4)).run("question?")
            await backend.aclose()
    assert [("x-affinity" in h, "x-session-id" in h) for h in seen] == [(True, False)] * 2 + [(False, False)] * 2


async def test_an_eval_sample_is_its_own_session_named_by_its_resume_key(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []
    tasks = [
        Task(
            id=f"t{i}",
            question=f"question {i}?",
            answer="42",
            aliases=(),
            type="x",
            difficulty="x",
            evidence_urls=(),
            oracle_budget={},
            meta={},
        )
        for i in range(4)
    ]
    async with asyncio.timeout(20), recording_stub(seen) as url:
        backend = _backend(url)
        log = tmp_path / "log.jsonl"
        await run_eval(
            tasks,
            [Condition("react", "1", Limits(requests=4))],
            backends=[backend],
            tools=TOOLS,
            log_path=log,
            concurrency=4,
        )
        await backend.aclose()
    samples = list(read_log(log))
    assert all(s.correct for s in samples)
    expected = {f"{s.run}/{s.task_id}/react/1" for s in samples}
    ids = [h["x-session-id"] for h in seen]
    assert set(ids) == expected and all(ids.count(i) == 2 for i in expected)
    rebuilt = backend.recipe()()  # how a Ray worker builds it: it sends the header too
    assert (rebuilt.base_url, rebuilt.model, rebuilt.session_header) == (url, "stub", "X-Session-ID")
    await rebuilt.aclose()
