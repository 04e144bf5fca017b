"""One SQLite file is the offline web: a page store (for browse) and an FTS5 BM25 index (for search).

External-content FTS5 over ``pages(title, body)`` with the porter stemmer. User text is never
passed to FTS5 syntax: queries are tokenised to words, each quoted, and OR-ed, so ``C++ AND -foo: "bar``
searches for words instead of raising. One connection per thread (SQLite's rule); async callers run
queries in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from thrifty.search.base import Page, SearchResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS pages(id INTEGER PRIMARY KEY, url TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
                                 source TEXT NOT NULL, body TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(title, body, content='pages', content_rowid='id',
                                                        tokenize='porter unicode61');
"""
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32
_STOPWORD_TEXT = (
    "a an and are as at be by did do does for from had has have how in is it its of on or that the this to was "
    "were what when where which who whom whose why with"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Dropped from OR queries: they match nearly every page, cost time and dilute BM25."""


def fts_query(text: str) -> str | None:
    """User text → a safe FTS5 expression (quoted words joined by OR); None when there are no words."""
    words = _WORD.findall(text.lower())
    content = [w for w in words if w not in STOPWORDS]
    words = (content or words)[:MAX_QUERY_TERMS]
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', "") + '"' for w in dict.fromkeys(words))


@dataclass(frozen=True, slots=True)
class BuildStats:
    pages: int
    seconds: float
    path: Path


def build_index(path: Path, pages: Iterable[Page], *, version: str) -> BuildStats:
    """(Re)build the index at ``path`` atomically: written to a temp file, then renamed into place."""
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".building")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.executescript(SCHEMA)
        n = 0
        with con:
            for page in pages:
                cur = con.execute(
                    "INSERT OR IGNORE INTO pages(url, title, source, body) VALUES (?, ?, ?, ?)",
                    (page.url, page.title, page.source, page.text),
                )
                n += cur.rowcount
            con.execute("INSERT INTO pages_fts(pages_fts) VALUES ('rebuild')")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))
        con.execute("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')")
        con.commit()
    finally:
        con.close()
    tmp.replace(path)
    return BuildStats(pages=n, seconds=time.perf_counter() - started, path=path)


class CorpusIndex:
    """Search and fetch over a built index file (read-only)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no index at {path}; build it with `thrifty index build`")
        self.path = path
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=True)
            self._local.con = con
        return con

    @property
    def version(self) -> str | None:
        row = self._con().execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return None if row is None else str(row[0])

    def __len__(self) -> int:
        return int(self._con().execute("SELECT count(*) FROM pages").fetchone()[0])

    def search_sync(self, query: str, k: int = 10) -> list[SearchResult]:
        expr = fts_query(query)
        if expr is None or k <= 0:
            return []
        # ``ORDER BY rank`` with the ranking set through ``rank MATCH`` lets FTS5 stop after the top k
        # (and make snippets only for them); ``ORDER BY bm25(...)`` ranks every match first: 2.3x slower.
        sql = (
            "SELECT p.url, p.title, p.source, s.snip FROM ("
            "  SELECT rowid, snippet(pages_fts, 1, '', '', ' … ', 24) AS snip, rank FROM pages_fts"
            "  WHERE pages_fts MATCH ? AND rank MATCH 'bm25(3.0, 1.0)' ORDER BY rank LIMIT ?"
            ") s JOIN pages p ON p.id = s.rowid ORDER BY s.rank"
        )
        rows = self._con().execute(sql, (expr, k)).fetchall()
        return [SearchResult(url=u, title=t, snippet=s, source=src) for u, t, src, s in rows]

    def fetch_sync(self, url: str) -> Page | None:
        row = self._con().execute("SELECT url, title, body, source FROM pages WHERE url = ?", (url,)).fetchone()
        if row is None and url.endswith("/"):
            row = (
                self._con().execute("SELECT url, title, body, source FROM pages WHERE url = ?", (url[:-1],)).fetchone()
            )
        elif row is None:
            row = (
                self._con().execute("SELECT url, title, body, source FROM pages WHERE url = ?", (url + "/",)).fetchone()
            )
        return None if row is None else Page(url=row[0], title=row[1], text=row[2], source=row[3])

    async def search(self, query: str, *, k: int = 10) -> list[SearchResult]:
        return await asyncio.to_thread(self.search_sync, query, k)

    async def fetch(self, url: str) -> Page | None:
        return await asyncio.to_thread(self.fetch_sync, url)
