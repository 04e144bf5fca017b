"""One HTTP client policy for thrifty's own clients: the token-count client, the search providers'
:class:`~thrifty.search.http.HttpJson` and the reward-model PRM.

A request waits at most ``timeout`` seconds, and never past the run's :class:`~thrifty.budget.Deadline`
when one is given (an attempt with no time left is not sent); statuses in ``retry_status`` and
transport errors are retried ``retries`` times after a jittered exponential back-off (or the
server's ``Retry-After``), and a back-off that cannot finish before the deadline is not started.
Every failure, after the last try, is one :class:`HttpFailure` saying what happened; callers map it
to their own error type (search errors are observations, backend errors end a call).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from thrifty.budget import Deadline

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpFailure(Exception):
    """A request failed for good: ``status`` when the server answered, ``timed_out`` when it did not in time."""

    def __init__(self, message: str, *, status: int | None = None, timed_out: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timed_out = timed_out


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    timeout: float = 30.0
    """The longest one attempt may take (a run's deadline shortens it)."""
    retries: int = 0
    backoff: float = 0.5
    """The first back-off in seconds; doubled per attempt, jittered ×0.5–1.5."""
    retry_status: frozenset[int] = RETRY_STATUS

    def client(self) -> httpx.AsyncClient:
        """A client for this policy (reuse it: a connection pool per call would cost a handshake each)."""
        return httpx.AsyncClient(timeout=self.timeout)

    async def request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        deadline: Deadline | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        before: Callable[[], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The response (any status not retried); :class:`HttpFailure` once the tries are spent.
        ``before`` is awaited before each attempt (a rate limiter)."""
        failure = HttpFailure(f"no request made to {url}")
        for attempt in range(self.retries + 1):
            if before is not None:
                await before()
            seconds = self.timeout if deadline is None else deadline.timeout(self.timeout)
            if seconds is not None and seconds <= 0:
                raise HttpFailure(f"no time left to ask {url}", timed_out=True)
            delay: float | None = None
            try:
                response = await asyncio.wait_for(client.request(method, url, timeout=seconds, **kwargs), seconds)
            except (TimeoutError, httpx.TimeoutException):
                failure = HttpFailure(f"{url} did not answer within {seconds:g}s", timed_out=True)
            except httpx.TransportError as exc:
                failure = HttpFailure(f"{type(exc).__name__} talking to {url}: {exc}")
            else:
                if response.status_code not in self.retry_status:
                    return response
                failure = HttpFailure(f"HTTP {response.status_code} from {url}", status=response.status_code)
                retry_after = response.headers.get("retry-after", "")
                delay = float(retry_after) if retry_after.isdigit() else None
            if attempt == self.retries:
                break
            pause = delay if delay is not None else self.backoff * 2**attempt * (0.5 + random.random())
            left = None if deadline is None else deadline.remaining()
            if left is not None and pause >= left:
                break  # a back-off that cannot finish before the deadline is not started
            await sleep(pause)
        raise failure
