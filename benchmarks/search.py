"""Offline web: index build time and query latency p50/p95 on the default corpus.

Run: python benchmarks/search.py [--queries 500]
Queries are the short descriptions of random vital articles ("1968 film by Stanley Kubrick"),
as in the corpus research note; hit@10 says whether the described article came back.
"""

from __future__ import annotations

import argparse
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from thrifty.search.corpus import corpus_version, default_pages, wiki_pages
from thrifty.search.index import CorpusIndex, build_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "default.sqlite"
        t = time.perf_counter()
        pages = list(default_pages())
        load = time.perf_counter() - t
        stats = build_index(path, pages, version=corpus_version())
        index = CorpusIndex(path)
        probes = [(p.text.split(".\n\n", 1)[0], p.url) for p in wiki_pages() if ".\n\n" in p.text]
        random.Random(args.seed).shuffle(probes)
        probes = [p for p in probes if len(p[0]) > 8][: args.queries]
        index.search_sync("warm up", k=10)
        latencies, hits = [], 0
        for query, url in probes:
            t = time.perf_counter()
            results = index.search_sync(query, k=10)
            latencies.append((time.perf_counter() - t) * 1000)
            hits += any(r.url == url for r in results)
        size_mb = path.stat().st_size / 1e6
    q = statistics.quantiles(latencies, n=100)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print(
        f"corpus: {stats.pages:,} pages; read from packages {load:.2f} s; index build {stats.seconds:.2f} s; {size_mb:.1f} MB"
    )
    print(
        f"queries: {len(latencies)}; p50 {q[49]:.2f} ms; p95 {q[94]:.2f} ms; mean {statistics.fmean(latencies):.2f} ms"
    )
    print(f"hit@10 {hits / len(latencies):.3f}")


if __name__ == "__main__":
    main()
