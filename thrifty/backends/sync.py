"""The sync edge to a backend: ``with open_backend_sync() as backend: Agent(backend).run_sync(q)``.

``open_backend`` is an async context manager, and its HTTP client belongs to the event loop that
opened it, while each ``Agent.run_sync`` call runs on a fresh loop. So the backend is opened on a
loop of its own, in a thread, and :class:`ThreadBackend` carries each call over to that loop: any
number of ``run_sync`` calls (or other loops) can share one embedded model server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from thrifty.backends.base import Backend, BackendWrapper, ChatRequest, Completion, TokenCount
from thrifty.backends.registry import BackendConfig, open_backend

T = TypeVar("T")


class ThreadBackend(BackendWrapper):
    """A backend whose calls run on the event loop (in another thread) that opened it."""

    def __init__(self, inner: Backend, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(inner)
        self._loop = loop

    async def _on_owner_loop(self, call: Coroutine[Any, Any, T]) -> T:
        # Cancelling the awaiting task cancels the call on the owner loop too (the futures are chained).
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call, self._loop))

    async def complete(self, request: ChatRequest) -> Completion:
        return await self._on_owner_loop(self.inner.complete(request))

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        return await self._on_owner_loop(self.inner.count_tokens(request))

    async def aclose(self) -> None:
        """Nothing: the ``open_backend_sync`` block closes the backend when it ends."""


@contextlib.contextmanager
def open_backend_sync(config: BackendConfig | None = None) -> Iterator[Backend]:
    """:func:`~thrifty.backends.registry.open_backend` for sync code; servers it started stop at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="thrifty-backend-loop", daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()
    try:
        backend = asyncio.run_coroutine_threadsafe(stack.enter_async_context(open_backend(config)), loop).result()
        try:
            yield ThreadBackend(backend, loop)
        finally:
            asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
