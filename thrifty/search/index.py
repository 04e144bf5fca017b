"""One SQLite file is the offline web: a page store (for browse) and a BM25 index (for search).

The search backend is a choice of the index, recorded in its ``meta`` table and chosen at build time
(by size unless told): SQLite FTS5 (external content over ``pages(title, body)``, porter stemmer; no
dependency, fast enough to ~50k pages) or tantivy (:mod:`thrifty.search.tantivy_index`, a directory
beside the file; flat latency to millions of pages). Either only retrieves BM25 candidates; they are
re-ranked with an entity bonus and shown with their best passage (:mod:`thrifty.search.ranking`),
using per-page entity keys and a document-frequency table stored beside the pages. User text is never
passed to FTS5 syntax: queries are tokenised to words, each quoted, and OR-ed, so ``C++ AND -foo: "bar``
searches for words instead of raising. One connection per thread (SQLite's rule); async callers run
queries in a worker thread.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thrifty.errors import ConfigError
from thrifty.search.base import Page, SearchResult
from thrifty.search.ranking import (
    MENTION_SHARE,
    Candidate,
    Concepts,
    best_passage,
    concepts,
    content_terms,
    coverage,
    diversify,
    entity_aliases,
    entity_key,
    fuse,
    idf,
    mention,
    query_phrases,
    query_subjects,
    specificity,
    words,
)

if TYPE_CHECKING:
    from thrifty.search.tantivy_index import TantivyRetriever

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS pages(id INTEGER PRIMARY KEY, url TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
                                 source TEXT NOT NULL, body TEXT NOT NULL, entity TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS aliases(key TEXT NOT NULL, id INTEGER NOT NULL, weight REAL NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_key ON aliases(key);
CREATE TABLE IF NOT EXISTS terms(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(title, body, content='pages', content_rowid='id',
                                                        tokenize='porter unicode61');
"""
MAX_QUERY_TERMS = 32
CANDIDATES = 30
"""BM25 candidates re-ranked per query (entity matches are added to them)."""
MAX_NAMED = 64
"""Pages about a named entity added per query, largest bonus first (the default corpus's longest
alias list, "islands", names 155 pages; synthetic million-page corpora name thousands)."""
BACKENDS = ("fts5", "tantivy")
TANTIVY_FROM_PAGES = 50_000
"""``auto`` picks tantivy from this many pages (when installed): FTS5's p50 passes ~5 ms around here."""


def query_terms(text: str) -> list[str]:
    """The words every backend searches for (stopwords dropped, expansions added, at most 32)."""
    return content_terms(text)[:MAX_QUERY_TERMS]


def fts_query(text: str) -> str | None:
    """User text → a safe FTS5 expression (quoted words joined by OR); None when there are no words."""
    terms = query_terms(text)
    return _fts_expression(terms) if terms else None


def _fts_expression(terms: list[str]) -> str:
    return " OR ".join('"' + w.replace('"', "") + '"' for w in terms)


@dataclass(frozen=True, slots=True)
class BuildStats:
    pages: int
    seconds: float
    path: Path
    backend: str = "fts5"


def choose_backend(requested: str, pages: int) -> str:
    """``fts5`` or ``tantivy``; ``auto``: tantivy for large corpora when it is installed."""
    from thrifty.search.tantivy_index import tantivy_available, tantivy_module

    if requested == "tantivy":
        tantivy_module()  # a clear error naming the extra, before any work
    elif requested == "auto":
        return "tantivy" if pages >= TANTIVY_FROM_PAGES and tantivy_available() else "fts5"
    elif requested != "fts5":
        raise ConfigError("backend", f"unknown search backend {requested!r}; choose auto, {', '.join(BACKENDS)}")
    return requested


def build_index(path: Path, pages: Iterable[Page], *, version: str, backend: str = "auto") -> BuildStats:
    """(Re)build the index at ``path`` atomically: written to a temp file, then renamed into place.

    ``backend``: ``fts5``, ``tantivy`` or ``auto`` (by the page count, :data:`TANTIVY_FROM_PAGES`).
    """
    started = time.perf_counter()
    if backend != "auto":
        choose_backend(backend, 0)  # a wrong or missing backend fails before the pages are read
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".building")
    tmp.unlink(missing_ok=True)
    search_dir: Path | None = None
    con = sqlite3.connect(tmp)
    try:
        con.executescript(SCHEMA)
        with con:
            n = _store_pages(con, pages)
            chosen = choose_backend(backend, n)
            if chosen == "fts5":
                con.execute("INSERT INTO pages_fts(pages_fts) VALUES ('rebuild')")
            else:
                from thrifty.search.tantivy_index import build_tantivy

                search_dir = path.parent / f"{path.name}.tantivy-{secrets.token_hex(4)}"
                build_tantivy(con, search_dir)
                con.execute("INSERT OR REPLACE INTO meta VALUES ('tantivy_dir', ?)", (search_dir.name,))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('backend', ?)", (chosen,))
        if chosen == "fts5":
            con.execute("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')")
        con.commit()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)  # a bad page leaves no half-built file behind
        if search_dir is not None:
            shutil.rmtree(search_dir, ignore_errors=True)
        raise
    con.close()
    tmp.replace(path)
    for old in path.parent.glob(f"{path.name}.tantivy-*"):  # what earlier builds of this path left
        if old != search_dir:
            shutil.rmtree(old, ignore_errors=True)
    return BuildStats(pages=n, seconds=time.perf_counter() - started, path=path, backend=chosen)


def _store_pages(con: sqlite3.Connection, pages: Iterable[Page]) -> int:
    """Insert the pages, their entity aliases and the document frequencies; returns the count."""
    n = 0
    df: Counter[str] = Counter()
    for page in pages:
        cur = con.execute(
            "INSERT OR IGNORE INTO pages(url, title, source, body, entity) VALUES (?, ?, ?, ?, ?)",
            (page.url, page.title, page.source, page.text, entity_key(page.title)),
        )
        if cur.rowcount:
            df.update(set(words(f"{page.title} {page.text}")))
            rows = [(key, cur.lastrowid, weight) for key, weight in entity_aliases(page.title)]
            con.executemany("INSERT INTO aliases VALUES (?, ?, ?)", rows)
        n += cur.rowcount
    con.executemany("INSERT INTO terms VALUES (?, ?)", df.items())
    return n


class CorpusIndex:
    """Search and fetch over a built index file (read-only)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no index at {path}; build it with `thrifty index build`")
        self.path = path
        self._local = threading.local()
        meta = dict(self._con().execute("SELECT key, value FROM meta").fetchall())
        self.backend: str = meta.get("backend", "fts5")
        self._tantivy = self._open_tantivy(meta) if self.backend != "fts5" else None

    def _open_tantivy(self, meta: dict[str, str]) -> TantivyRetriever:
        if self.backend != "tantivy":
            raise ConfigError("index", f"{self.path} uses the search backend {self.backend!r}, unknown to this thrifty")
        from thrifty.search.tantivy_index import EXTRA_HINT, TantivyRetriever

        try:
            return TantivyRetriever(self.path.parent / meta.get("tantivy_dir", "?"))
        except ConfigError:
            raise ConfigError(
                "index",
                f"{self.path} was built for the tantivy search backend: {EXTRA_HINT} "
                "(or rebuild it with `thrifty index build --backend fts5`)",
            ) from None

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
        """BM25 candidates plus pages about an entity the query names, fused (see :mod:`ranking`)."""
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        pool = {pid: Candidate(pid, score, entity) for pid, score, entity in self._top(terms, max(CANDIDATES, k))}
        phrases = query_phrases(query)
        dfs = self._dfs({w for p in phrases for w in p.split()} | set(content_terms(query)))
        weights = self._phrase_weights(query, phrases, dfs)
        if weights:
            subjects, rest = self._add_named(pool, terms, query, weights, dfs)
            self._add_mentions(pool, subjects, rest)
        fused = fuse(pool.values())
        score = {pid: value for value, pid in fused}
        top = diversify([pid for _, pid in fused], {pid: c.entity for pid, c in pool.items()})[:k]
        return self._results([(pid, score[pid]) for pid in top], query)

    def _top(self, terms: list[str], n: int) -> list[tuple[int, float, str]]:
        """The backend's ``n`` best BM25 candidates: (page id, score, entity)."""
        con = self._con()
        if self._tantivy is None:
            # ``ORDER BY rank`` with the ranking set through ``rank MATCH`` lets FTS5 stop after the top N.
            sql = (
                "SELECT f.rowid, -f.rank, p.entity FROM pages_fts f JOIN pages p ON p.id = f.rowid"
                " WHERE pages_fts MATCH ? AND rank MATCH 'bm25(3.0, 1.0)' ORDER BY rank LIMIT ?"
            )
            return [(int(i), float(s), e) for i, s, e in con.execute(sql, (_fts_expression(terms), n))]
        hits = self._tantivy.top(terms, n)
        if not hits:
            return []
        marks = ",".join("?" * len(hits))
        entity = dict(con.execute(f"SELECT id, entity FROM pages WHERE id IN ({marks})", [i for i, _ in hits]))
        return [(pid, score, entity[pid]) for pid, score in hits]

    def _add_named(
        self, pool: dict[int, Candidate], terms: list[str], query: str, weights: dict[str, float], dfs: dict[str, int]
    ) -> tuple[set[str], Concepts]:
        """Add the pages about an entity the query names (by title or surname), each with its bonus and
        how well one of its sentences covers the query's *other* words (which of Peru's Factbook
        sections states its capital). Returns the subjects and those other words' concepts."""
        named, best = self._named(weights)
        missing = [pid for pid in named if pid not in pool]
        scores = dict(self._bm25_of(terms, missing)) if missing else {}
        subjects = query_subjects(query, best)
        # The rest of the query is what is asked *about* the subjects (their own words left out, so
        # "Ethiopia or Egypt" does not rank Ethiopia's sections by whether they mention Egypt); pages
        # on a word of the question ("Currency", "Mountain") keep their bonus but rank no sections.
        rest = concepts(
            query, lambda w: idf(dfs.get(w, 0), self._n_docs()), exclude={w for k in subjects for w in k.split()}
        )
        for pid, (bonus, key, entity, body) in named.items():
            bm25 = pool[pid].bm25 if pid in pool else scores.get(pid, 0.0)
            residual = coverage(body, rest) if key in subjects else 0.0
            pool[pid] = Candidate(pid, bm25, entity, bonus=bonus, residual=residual)
        return subjects, rest

    def _named(self, weights: dict[str, float]) -> tuple[dict[int, tuple[float, str, str, str]], dict[str, float]]:
        """The :data:`MAX_NAMED` pages with the largest bonus among those a query phrase names
        (page id → bonus, key, entity, body), and each named key's best bonus. The cap bounds the
        re-ranking at scale: in a million pages a surname key can name thousands."""
        marks = ",".join("?" * len(weights))
        sql = f"SELECT id, key, weight FROM aliases WHERE key IN ({marks})"
        bonus: dict[int, tuple[float, str]] = {}
        for pid, key, weight in self._con().execute(sql, list(weights)):
            value = weight * weights[key]
            if value > bonus.get(pid, (0.0, ""))[0]:
                bonus[pid] = (value, key)
        best: dict[str, float] = {}
        for value, key in bonus.values():  # a key counts by the pages it names best
            best[key] = max(value, best.get(key, 0.0))
        kept = sorted(bonus, key=lambda pid: (-bonus[pid][0], pid))[:MAX_NAMED]
        if not kept:
            return {}, best
        marks = ",".join("?" * len(kept))
        rows = self._con().execute(f"SELECT id, entity, body FROM pages WHERE id IN ({marks})", kept)
        return {pid: (*bonus[pid], entity, body) for pid, entity, body in rows}, best

    def _add_mentions(self, pool: dict[int, Candidate], subjects: set[str], rest: Concepts) -> None:
        """Credit the BM25 candidates that are not about a subject but name one in a sentence with
        the rest of the query (see :data:`~thrifty.search.ranking.MENTION_SHARE`)."""
        others = [pid for pid, c in pool.items() if not c.bonus]
        if not subjects or not rest or not others:
            return
        marks = ",".join("?" * len(others))
        bodies = self._con().execute(f"SELECT id, body FROM pages WHERE id IN ({marks})", others).fetchall()
        for pid, body in bodies:
            share = mention(body, subjects, rest)
            if share > 0:
                c = pool[pid]
                pool[pid] = Candidate(pid, c.bm25, c.entity, residual=MENTION_SHARE * share)

    def _dfs(self, terms: set[str]) -> dict[str, int]:
        """Document frequencies of ``terms`` (one lookup per query, shared by both scores that need them)."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        return dict(self._con().execute(f"SELECT term, df FROM terms WHERE term IN ({marks})", list(terms)).fetchall())

    def _phrase_weights(self, query: str, phrases: list[str], dfs: dict[str, int]) -> dict[str, float]:
        """Each query phrase → its share of the query's IDF mass (how much of the query it names)."""
        if not phrases:
            return {}
        n_docs = self._n_docs()
        total = specificity(" ".join(content_terms(query, expand=False)), dfs, n_docs) or 1.0
        return {p: min(1.0, specificity(p, dfs, n_docs) / total) for p in phrases}

    def _bm25_of(self, terms: list[str], ids: list[int]) -> list[tuple[int, float]]:
        if self._tantivy is not None:
            return self._tantivy.scores(terms, ids)
        expr = _fts_expression(terms)
        marks = ",".join("?" * len(ids))
        sql = f"SELECT rowid, -bm25(pages_fts, 3.0, 1.0) FROM pages_fts WHERE pages_fts MATCH ? AND rowid IN ({marks})"
        return [(int(r), float(s)) for r, s in self._con().execute(sql, [expr, *ids]).fetchall()]

    def _n_docs(self) -> int:
        n: int | None = getattr(self._local, "n_docs", None)
        if n is None:
            n = len(self)
            self._local.n_docs = n
        return n

    def _results(self, scored: list[tuple[int, float]], query: str) -> list[SearchResult]:
        if not scored:
            return []
        marks = ",".join("?" * len(scored))
        sql = f"SELECT id, url, title, source, body FROM pages WHERE id IN ({marks})"
        by_id = {pid: row for pid, *row in self._con().execute(sql, [pid for pid, _ in scored])}
        results = []
        for pid, score in scored:
            url, title, source, body = by_id[pid]
            snippet = best_passage(body, query, title=title)
            results.append(SearchResult(url=url, title=title, snippet=snippet, source=source, score=round(score, 4)))
        return results

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
