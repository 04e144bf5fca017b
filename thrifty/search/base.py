"""Search and page-store contracts shared by the offline web and the real-web providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class SearchResult:
    url: str
    title: str
    snippet: str
    source: str = ""
    score: float | None = None
    """The engine's relevance score, where it has one (higher is better; comparable within one query)."""


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    title: str
    text: str
    source: str = ""


@runtime_checkable
class SearchBackend(Protocol):
    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]: ...


@runtime_checkable
class PageFetcher(Protocol):
    async def fetch(self, url: str) -> Page | None:
        """The page at ``url``, or None when there is none (a 404)."""
        ...
