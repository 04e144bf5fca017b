"""A disk cache around any search backend, for reproducible evaluation runs (and fewer paid calls)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from thrifty.search.base import SearchBackend, SearchResult


class CachedSearch:
    """Results keyed by (namespace, query, k) in a SQLite file; ``ttl_seconds=None`` keeps them forever."""

    def __init__(
        self, inner: SearchBackend, path: Path, *, namespace: str = "", ttl_seconds: float | None = None
    ) -> None:
        self.inner = inner
        self.path = path
        self.namespace = namespace or type(inner).__name__
        self.ttl = ttl_seconds
        self.hits = 0
        self.misses = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE IF NOT EXISTS cache(key TEXT PRIMARY KEY, at REAL, value TEXT)")

    def _key(self, query: str, k: int) -> str:
        return json.dumps([self.namespace, " ".join(query.split()), k])

    def _get(self, key: str) -> list[SearchResult] | None:
        with sqlite3.connect(self.path) as con:
            row = con.execute("SELECT at, value FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None or (self.ttl is not None and time.time() - row[0] > self.ttl):
            return None
        return [SearchResult(**item) for item in json.loads(row[1])]

    def _put(self, key: str, results: list[SearchResult]) -> None:
        value = json.dumps(
            [{"url": r.url, "title": r.title, "snippet": r.snippet, "source": r.source} for r in results]
        )
        with sqlite3.connect(self.path) as con:
            con.execute("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)", (key, time.time(), value))

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        key = self._key(query, k)
        cached = await asyncio.to_thread(self._get, key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        results = await self.inner.search(query, k=k)
        await asyncio.to_thread(self._put, key, results)
        return results
