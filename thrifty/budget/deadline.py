"""One deadline for a whole run: every wait (model call, token count, PRM, tool, back-off) honours it.

A ``seconds`` limit is hard only if nothing waits past it. :class:`Deadline` is the single object
that says how long any wait may last: the time left on the tightest ``seconds`` limit of a ledger
and its ancestors, capped by the wait's own default timeout. A wait that could not even start
before the deadline raises at once instead of starting; one cut short raises ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from thrifty.budget.clock import Clock

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float | None
    """Clock time by which every wait must be over; None: no time limit."""
    clock: Clock

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - self.clock.now())

    def timeout(self, default: float | None = None) -> float | None:
        """The longest a wait may last: the time left, or ``default`` when that is shorter."""
        left = self.remaining()
        if left is None:
            return default
        return left if default is None else min(left, default)

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    async def wait(self, awaitable: Awaitable[T], default: float | None = None) -> T:
        """Await ``awaitable`` for at most :meth:`timeout`; ``TimeoutError`` when cut short.

        When no time is left the awaitable is never started (a coroutine is closed unrun)."""
        limit = self.timeout(default)
        if limit is not None and limit <= 0:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
            raise TimeoutError("no time left before the deadline")
        return await asyncio.wait_for(awaitable, limit)

    async def sleep(self, seconds: float) -> None:
        """A back-off pause; ``TimeoutError`` at once when the pause would outlast the deadline
        (waiting only to find the time gone helps no one)."""
        left = self.remaining()
        if left is not None and seconds >= left:
            raise TimeoutError(f"a {seconds:g}s pause does not fit in the {left:.3g}s left")
        await asyncio.sleep(seconds)
