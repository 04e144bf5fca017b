"""Optional corpus pieces: dictd "sites" (FOLDOC-style databases) and the tantivy backend."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from thrifty.search.dictd import b64_number, dictd_pages, installed_sites
from thrifty.search.index import CorpusIndex, build_index

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(n: int) -> str:
    out = ""
    while True:
        out = _B64[n % 64] + out
        n //= 64
        if n == 0:
            return out


def make_dictd(folder: Path, name: str, entries: list[tuple[str, str]]) -> None:
    body, index = b"", []
    for word, text in entries:
        data = f"{word}\n\n   {text}\n".encode()
        index.append(f"{word}\t{_b64(len(body))}\t{_b64(len(data))}")
        body += data
    (folder / f"{name}.index").write_text("00-database-short\tA\tB\n" + "\n".join(index) + "\n")
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(body))


def test_dictd_database_becomes_pages(tmp_path: Path) -> None:
    assert b64_number("BA") == 64 and b64_number(_b64(123456)) == 123456
    make_dictd(
        tmp_path,
        "foldoc",
        [("lambda calculus", "A formal system by {Alonzo Church}."), ("lambda calculus", "Second sense.")],
    )
    assert [name for name, _, _ in installed_sites(tmp_path)] == ["foldoc"]
    pages = list(dictd_pages(tmp_path / "foldoc.index", tmp_path / "foldoc.dict.dz", "https://foldoc.org/", "foldoc"))
    assert [p.url for p in pages] == ["https://foldoc.org/lambda%20calculus", "https://foldoc.org/lambda%20calculus#2"]
    assert "Alonzo Church" in pages[0].text


def test_tantivy_backend_matches_the_store(tmp_path: Path) -> None:
    pytest.importorskip("tantivy")
    from tests.helpers import PAGES

    store_path = tmp_path / "small.sqlite"
    assert build_index(store_path, PAGES, version="t", backend="tantivy").backend == "tantivy"
    index = CorpusIndex(store_path)
    results = index.search_sync("capital of Germany", k=2)
    assert results[0].title == "Berlin" and "capital" in results[0].snippet.lower()
    assert index.search_sync('C++ AND -foo: "bar', k=3) is not None
    assert index.search_sync("!!!") == []
    assert index.fetch_sync("https://en.wikipedia.org/wiki/Paris") is not None
