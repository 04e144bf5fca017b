"""Offline search at scale, per backend: build time, size on disk, p50/p95 query latency, hit@10.

    python benchmarks/search_scale.py --pages 13000,100000,1000000 --backends fts5,tantivy --dir /tmp/scale

The corpus is the default ~13k real pages plus synthetic pages recombined from their text (seeded):
title = 2-4 words drawn from real titles + " (j)", body = real sentences drawn until it is as long
as a randomly chosen real page. All real pages come first, so the probe queries (the first paragraph
of random vital articles, as benchmarks/search.py) keep their target page among synthetic
distractors that share its vocabulary; hit@10 is a property of this synthetic corpus, not a quality
measure (that is benchmarks/quality.py --conditions recall). Queries go through ``CorpusIndex.search_sync``,
i.e. the backend's candidates *and* the re-ranking every command uses. One JSON line per step.
Latency is given as wall time and as this thread's CPU time: on a shared machine the wall figure
mostly measures the other tenants (load is recorded), the CPU figure what a query costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from thrifty.search.base import Page
from thrifty.search.corpus import corpus_version, default_pages, wiki_pages
from thrifty.search.index import CorpusIndex, build_index

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def synthetic_pages(total: int, seed: int = 0) -> Iterator[Page]:
    real = list(default_pages())
    yield from real[:total]
    if total <= len(real):
        return
    rng = random.Random(seed)
    sentences = [s for p in real for s in _SENTENCE.split(p.text.replace("\n", " ")) if len(s) > 20]
    title_words = [w for p in real for w in p.title.split() if w.isalpha()]
    lengths = [len(p.text) for p in real]
    for j in range(len(real), total):
        target, body, size = rng.choice(lengths), [], 0
        while size < target:
            sentence = rng.choice(sentences)
            body.append(sentence)
            size += len(sentence) + 1
        title = " ".join(rng.choices(title_words, k=rng.randint(2, 4))) + f" ({j})"
        yield Page(url=f"https://synthetic.example/{j}", title=title, text=" ".join(body), source="synthetic")


def disk_bytes(index: Path) -> int:
    paths = [index, *index.parent.glob(f"{index.name}.tantivy-*")]
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))]
    return sum(f.stat().st_size for f in files if f.is_file())


def probes(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """As benchmarks/search.py: a vital article's first paragraph, and that article's URL."""
    found = [(p.text.split(".\n\n", 1)[0], p.url) for p in wiki_pages() if ".\n\n" in p.text]
    random.Random(seed).shuffle(found)
    return [p for p in found if len(p[0]) > 8][:n]


def measure(index: CorpusIndex, queries: list[tuple[str, str]], warmup: int) -> dict[str, float]:
    for query, _ in queries[:warmup]:  # the page cache and the connection
        index.search_sync(query, k=10)
    wall, cpu, hits = [], [], 0
    for query, url in queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        results = index.search_sync(query, k=10)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        hits += any(r.url == url for r in results)
    cuts, cpu_cuts = statistics.quantiles(wall, n=100), statistics.quantiles(cpu, n=100)
    return {
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "cpu_p50_ms": round(cpu_cuts[49], 2),
        "cpu_p95_ms": round(cpu_cuts[94], 2),
        "hit10": round(hits / len(wall), 3),
    }


def run(pages: int, backend: str, directory: Path, queries: int, warmup: int) -> dict[str, object]:
    path = directory / f"{pages}-{backend}.sqlite"
    started = time.perf_counter()
    stats = build_index(path, synthetic_pages(pages), version=corpus_version(), backend=backend)
    build_s = time.perf_counter() - started
    index = CorpusIndex(path)
    assert index.backend == backend
    row: dict[str, object] = {"pages": stats.pages, "backend": backend, "build_s": round(build_s, 1)}
    row["bytes"] = disk_bytes(path)
    row.update(measure(index, probes(queries), warmup))
    row["load"] = round(os.getloadavg()[0], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="13000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--backends", default="fts5,tantivy")
    parser.add_argument("--dir", type=Path, required=True, help="where to build (GBs at 1M pages)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the built indexes")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for pages in (int(p) for p in args.pages.split(",")):
        for backend in args.backends.split(","):
            print(json.dumps(run(pages, backend, args.dir, args.queries, args.warmup)), flush=True)
            if not args.keep:
                for leftover in args.dir.glob(f"{pages}-{backend}.sqlite*"):
                    if leftover.is_dir():
                        shutil.rmtree(leftover)
                    else:
                        leftover.unlink()
    print(f"done; load {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
