"""The eval runner's retries honour the sample's ``seconds`` limit: a back-off that cannot finish
before the deadline is not started, and a retry gets only the time left (issue 11)."""

import time

from thrifty.agents.agent import Agent
from thrifty.backends import ScriptedBackend
from thrifty.budget import Limits
from thrifty.errors import BackendConnectionError
from thrifty.evals.sample import _Attempts


def _flaky(failures: int):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    async def respond(request) -> str:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= failures:
            raise BackendConnectionError("connection refused")
        return "<answer>Lima</answer>"

    return respond


async def test_a_back_off_that_outlasts_the_deadline_is_not_started() -> None:
    agent = Agent(ScriptedBackend([_flaky(10)] * 10), tools=[], strategy="react", limits=Limits(seconds=0.4))
    started = time.monotonic()
    result, attempts = await _Attempts(agent, 3, None, None, "t").run("Capital of Peru?")
    assert (result.stop_reason, attempts) == ("error", 1)  # the first back-off is 1 s: 0.4 s cannot hold it
    assert time.monotonic() - started < 0.4


async def test_a_retry_gets_only_the_time_left() -> None:
    agent = Agent(ScriptedBackend([_flaky(1)] * 4), tools=[], strategy="react", limits=Limits(seconds=5.0))
    started = time.monotonic()
    result, attempts = await _Attempts(agent, 2, None, None, "t").run("Capital of Peru?")
    assert (result.stop_reason, result.answer, attempts) == ("answered", "Lima", 2)
    assert result.limits is not None and result.limits.seconds is not None
    assert result.limits.seconds <= 5.0 - 1.0  # the 1 s back-off came out of the sample's 5 s
    assert time.monotonic() - started < 5.0


async def test_without_a_seconds_limit_retries_keep_the_agents_limits() -> None:
    agent = Agent(ScriptedBackend([_flaky(1)] * 4), tools=[], strategy="react", limits=Limits(requests=3))
    result, attempts = await _Attempts(agent, 1, None, None, "t").run("Capital of Peru?")
    assert (result.answer, attempts) == ("Lima", 2)
    assert result.limits == Limits(requests=3)
