"""The session a model request belongs to: one agent run (one eval sample).

Every request of a run carries its session id in a header (``X-Session-ID`` by default), so a router in
front of data-parallel replicas (vllm-project/router's consistent_hash policy, for one) sends all turns
of one run to the same replica, whose prefix cache holds the run's growing conversation. The id lives in
a context variable: asyncio tasks started inside a run (parallel tool calls, particles) inherit it, and
concurrent runs on one event loop never see each other's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT_HEADER = "X-Session-ID"

_current: ContextVar[str | None] = ContextVar("thrifty_session", default=None)


def current_session() -> str | None:
    """The id of the run the caller is part of, if any."""
    return _current.get()


@contextmanager
def session(session_id: str | None = None) -> Iterator[str]:
    """Mark the block as one session: ``session_id``, else the enclosing one, else a new random id."""
    chosen = session_id or _current.get() or uuid.uuid4().hex
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)
