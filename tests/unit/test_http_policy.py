"""The one HTTP client policy (token counts, search providers, the reward model): bounded attempts,
retries with back-off or Retry-After, the run's deadline honoured, one error type after the last try."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from thrifty.budget import Deadline, FakeClock
from thrifty.httppolicy import HttpFailure, HttpPolicy


def _server(statuses: list[int], headers: dict[str, str] | None = None) -> tuple[httpx.AsyncClient, list[int]]:
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(statuses[len(seen)])
        return httpx.Response(seen[-1], json={"n": len(seen)}, headers=headers or {})

    return httpx.AsyncClient(transport=httpx.MockTransport(handle)), seen


async def test_retried_statuses_back_off_then_succeed() -> None:
    client, seen = _server([503, 429, 200])
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    response = await HttpPolicy(retries=3, backoff=0.1).request(client, "GET", "http://x/", sleep=sleep)
    assert response.json() == {"n": 3} and seen == [503, 429, 200]
    assert len(pauses) == 2 and 0.05 <= pauses[0] <= 0.15 and 0.1 <= pauses[1] <= 0.3  # doubled, jittered


async def test_retry_after_is_honoured_and_other_errors_are_returned_as_they_are() -> None:
    client, _ = _server([429, 404], {"retry-after": "2"})
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    response = await HttpPolicy(retries=2).request(client, "GET", "http://x/", sleep=sleep)
    assert response.status_code == 404 and pauses == [2.0]  # a 404 is not retried: the caller reads it


async def test_the_last_failure_is_one_error_naming_the_status() -> None:
    client, seen = _server([503, 503])
    with pytest.raises(HttpFailure, match=r"HTTP 503 from http://x/") as info:
        await HttpPolicy(retries=1, backoff=0).request(client, "GET", "http://x/")
    assert info.value.status == 503 and not info.value.timed_out and len(seen) == 2


async def test_a_back_off_past_the_deadline_is_not_started_and_no_attempt_without_time() -> None:
    clock = FakeClock()
    client, seen = _server([503, 200])
    with pytest.raises(HttpFailure, match="HTTP 503"):  # 1 s left, the first back-off is at least 5 s
        await HttpPolicy(retries=3, backoff=10).request(client, "GET", "http://x/", deadline=Deadline(1.0, clock))
    assert seen == [503]
    clock.advance(2)
    with pytest.raises(HttpFailure, match="no time left") as info:
        await HttpPolicy().request(client, "GET", "http://x/", deadline=Deadline(1.0, clock))
    assert info.value.timed_out and seen == [503]


async def test_a_hanging_server_is_cut_at_the_policy_timeout() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(hang))
    started = time.monotonic()
    with pytest.raises(HttpFailure, match=r"did not answer within 0\.2s") as info:
        await HttpPolicy(timeout=0.2).request(client, "GET", "http://x/")
    assert info.value.timed_out and time.monotonic() - started < 0.2 + 2.0
