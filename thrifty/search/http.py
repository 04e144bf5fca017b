"""HTTP plumbing for search providers: the shared policy (timeouts, retries with jittered backoff), rate limits.

Provider errors are mapped to :class:`SearchError` here, so the search tool can report them to the
model as observations instead of crashing the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from thrifty import safejson
from thrifty.httppolicy import HttpFailure, HttpPolicy


class SearchError(Exception):
    """A search provider failed (after retries)."""


class RateLimiter:
    """At most ``per_second`` requests per second from this client (a simple spacing limiter)."""

    def __init__(self, per_second: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 0.0 if not per_second else 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()
        self._clock = clock

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = self._clock()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class HttpJson:
    """One provider's HTTP client: JSON requests under the shared policy (:class:`HttpPolicy`:
    timeouts, retries with jittered back-off, ``Retry-After``) plus a rate limit."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        per_second: float | None = None,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.policy = HttpPolicy(timeout=timeout, retries=retries, backoff=backoff)
        self.client = client or self.policy.client()
        self.limiter = RateLimiter(per_second)
        self._sleep = sleep

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = await self.policy.request(
                self.client, method, url, sleep=self._sleep, before=self.limiter.wait, **kwargs
            )
        except HttpFailure as exc:
            raise SearchError(str(exc)) from exc
        if response.is_error:
            raise SearchError(f"HTTP {response.status_code} from {url}: {response.text[:200]}")
        try:
            return safejson.loads(response.content)
        except ValueError as exc:
            raise SearchError(f"invalid JSON from {url}") from exc

    async def aclose(self) -> None:
        await self.client.aclose()
