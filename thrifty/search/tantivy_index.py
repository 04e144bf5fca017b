"""The tantivy search backend for large corpora (``pip install "thrifty[tantivy]"``, imported lazily).

Why: FTS5 scores every page that matches any query word, so its latency grows with the corpus
(p50 ~200 ms at 1M pages); tantivy's top-k search skips what cannot reach the top (~2 ms there).
It replaces only *candidate retrieval*: the SQLite file stays the page store, and the candidates go
through the same re-ranking (:mod:`thrifty.search.ranking`) as FTS5's, from the same query words.
To match what that ranking was tuned on, BM25 here scores close to FTS5's ``bm25(3.0, 1.0)``, which
counts a title hit several times but takes document frequency and length over the whole row: one
field holds the title :data:`TITLE_REPEAT` times plus the body, Snowball-stemmed as FTS5's porter
tokenizer stems. Measured on the quality set (190 questions, benchmarks/RESULTS.md): separate title
and body fields with a title boost lost 2 points of recall@1 whatever the boost; title ×3 lost one
question at recall@1; title ×2 ties FTS5 at recall@1 and @5 and gains at @10.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from thrifty.errors import ConfigError

TITLE_REPEAT = 2
EXTRA_HINT = 'pip install "thrifty[tantivy]"'


def tantivy_module() -> Any:
    """The ``tantivy`` package, or a clear error naming the extra that installs it."""
    try:
        import tantivy  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError("backend", f"the tantivy search backend needs: {EXTRA_HINT}") from None
    return tantivy


def tantivy_available() -> bool:
    try:
        tantivy_module()
    except ConfigError:
        return False
    return True


def _schema(tantivy: Any) -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
    return builder.build()


def build_tantivy(con: sqlite3.Connection, directory: Path, *, threads: int = 2) -> int:
    """Index every page of the store behind ``con`` into ``directory``; returns the page count."""
    tantivy = tantivy_module()
    directory.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_schema(tantivy), path=str(directory))
    writer = index.writer(heap_size=256 * 1024 * 1024, num_threads=threads)
    n = 0
    for row_id, title, body in con.execute("SELECT id, title, body FROM pages"):
        writer.add_document(tantivy.Document(id=row_id, text=f"{title}\n" * TITLE_REPEAT + body))
        n += 1
    writer.commit()
    writer.wait_merging_threads()
    return n


class TantivyRetriever:
    """BM25 candidates (page id, score) from a tantivy index built by :func:`build_tantivy`."""

    def __init__(self, directory: Path) -> None:
        self._tantivy = tantivy_module()
        if not directory.is_dir():
            raise FileNotFoundError(f"the index's tantivy directory {directory} is missing; rebuild the index")
        self._index = self._tantivy.Index.open(str(directory))
        self._searcher = self._index.searcher()

    def _parse(self, terms: list[str]) -> Any:
        # Each word quoted: user text never reaches the query syntax (``C++ AND -foo:`` is just words).
        text = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        return self._index.parse_query(text, ["text"])

    def _hits(self, query: Any, limit: int) -> list[tuple[int, float]]:
        searcher = self._searcher
        return [
            (int(searcher.doc(address)["id"][0]), float(score)) for score, address in searcher.search(query, limit).hits
        ]

    def top(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        """The ``n`` best pages for any of ``terms``, best first."""
        return self._hits(self._parse(terms), n)

    def scores(self, terms: list[str], ids: list[int]) -> list[tuple[int, float]]:
        """The BM25 scores of the pages ``ids`` that match ``terms`` (the others are left out)."""
        q = self._tantivy.Query
        only = q.const_score_query(q.term_set_query(self._index.schema, "id", ids), 0.0)
        query = q.boolean_query([(self._tantivy.Occur.Must, self._parse(terms)), (self._tantivy.Occur.Must, only)])
        return self._hits(query, len(ids))
