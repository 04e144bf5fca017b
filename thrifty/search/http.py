"""Shared HTTP plumbing for search providers: timeouts, retries with jittered backoff, rate limits.

Provider errors are mapped to :class:`SearchError` here, so the search tool can report them to the
model as observations instead of crashing the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from thrifty import safejson

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


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
    """One provider's HTTP client: JSON requests with retries, backoff and a rate limit."""

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
        self.client = client or httpx.AsyncClient(timeout=timeout)
        self.retries = retries
        self.backoff = backoff
        self.limiter = RateLimiter(per_second)
        self._sleep = sleep

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            await self.limiter.wait()
            try:
                response = await self.client.request(method, url, **kwargs)
                if response.status_code not in RETRY_STATUS:
                    response.raise_for_status()
                    return safejson.loads(response.content)
                last = SearchError(f"HTTP {response.status_code} from {url}")
                retry_after = response.headers.get("retry-after", "")
                delay = float(retry_after) if retry_after.isdigit() else None
            except httpx.HTTPStatusError as exc:
                raise SearchError(f"HTTP {exc.response.status_code} from {url}: {exc.response.text[:200]}") from exc
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last, delay = SearchError(f"{type(exc).__name__} talking to {url}"), None
            except ValueError as exc:
                raise SearchError(f"invalid JSON from {url}") from exc
            if attempt < self.retries:
                await self._sleep(delay if delay is not None else self.backoff * 2**attempt * (0.5 + random.random()))
        raise last or SearchError(f"request to {url} failed")

    async def aclose(self) -> None:
        await self.client.aclose()
