"""The search backend is a choice of the index: recorded at build, chosen by size, used by every command.

FTS5 is always there; the tantivy tests need the optional package (installed by ``thrifty[dev]``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PAGES, CliRun, scripted_cli
from thrifty.errors import ConfigError
from thrifty.search import index as index_module
from thrifty.search import tantivy_index
from thrifty.search.corpus import wiki_url
from thrifty.search.index import CorpusIndex, build_index
from thrifty.search.offline import build_default_index

needs_tantivy = pytest.mark.skipif(not tantivy_index.tantivy_available(), reason="tantivy is not installed")


def no_tantivy() -> None:
    raise ConfigError("backend", f"the tantivy search backend needs: {tantivy_index.EXTRA_HINT}")


def untouchable() -> Iterator[object]:
    raise AssertionError("the pages were read before the backend was checked")
    yield


@pytest.fixture(scope="module")
def tantivy_default(tmp_path_factory: pytest.TempPathFactory) -> CorpusIndex:
    if not tantivy_index.tantivy_available():
        pytest.skip("tantivy is not installed")
    path = tmp_path_factory.mktemp("tv") / "default.sqlite"
    assert build_default_index(path, backend="tantivy").backend == "tantivy"
    return CorpusIndex(path)


@needs_tantivy
def test_auto_picks_the_backend_by_size_and_records_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_index(tmp_path / "small.sqlite", PAGES, version="t").backend == "fts5"
    assert CorpusIndex(tmp_path / "small.sqlite").backend == "fts5"
    monkeypatch.setattr(index_module, "TANTIVY_FROM_PAGES", len(PAGES))
    assert build_index(tmp_path / "big.sqlite", PAGES, version="t").backend == "tantivy"
    big = CorpusIndex(tmp_path / "big.sqlite")
    assert big.backend == "tantivy" and big.search_sync("capital of Germany", k=1)[0].title == "Berlin"


def test_auto_falls_back_to_fts5_without_tantivy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "TANTIVY_FROM_PAGES", 1)
    monkeypatch.setattr(tantivy_index, "tantivy_module", no_tantivy)
    assert build_index(tmp_path / "i.sqlite", PAGES, version="t").backend == "fts5"


def test_an_unusable_backend_is_refused_before_any_page_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="unknown search backend 'lucene'"):
        build_index(tmp_path / "i.sqlite", untouchable(), version="t", backend="lucene")
    monkeypatch.setattr(tantivy_index, "tantivy_module", no_tantivy)
    with pytest.raises(ConfigError, match=r"thrifty\[tantivy\]"):
        build_index(tmp_path / "i.sqlite", untouchable(), version="t", backend="tantivy")
    assert not list(tmp_path.iterdir())


@needs_tantivy
def test_a_tantivy_index_without_the_package_names_the_extra_and_the_way_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(tmp_path / "i.sqlite", PAGES, version="t", backend="tantivy")
    monkeypatch.setattr(tantivy_index, "tantivy_module", no_tantivy)
    with pytest.raises(ConfigError, match=r"thrifty\[tantivy\].*--backend fts5"):
        CorpusIndex(tmp_path / "i.sqlite")


@needs_tantivy
def test_rebuilding_replaces_the_search_directory(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    build_index(path, PAGES, version="t", backend="tantivy")
    first = list(tmp_path.glob("i.sqlite.tantivy-*"))
    build_index(path, PAGES[:2], version="t", backend="tantivy")
    second = list(tmp_path.glob("i.sqlite.tantivy-*"))
    assert len(first) == len(second) == 1 and first != second
    assert len(CorpusIndex(path)) == 2
    build_index(path, PAGES, version="t", backend="fts5")
    assert not list(tmp_path.glob("i.sqlite.tantivy-*"))


def test_the_same_ranking_runs_on_tantivy_candidates(tantivy_default: CorpusIndex, default_index_path: Path) -> None:
    fts5 = CorpusIndex(default_index_path)
    assert fts5.backend == "fts5" and len(tantivy_default) == len(fts5)
    results = tantivy_default.search_sync("Stanley Kubrick 1968 film", k=5)
    assert [r.url for r in results[:2]] == [wiki_url("Stanley Kubrick"), wiki_url("2001: A Space Odyssey")]
    for query in ("capital of Australia", "How many people live in Chile?", "Who painted the Mona Lisa?"):
        assert tantivy_default.search_sync(query, k=1)[0].url == fts5.search_sync(query, k=1)[0].url, query


@pytest.mark.parametrize("hostile", ['C++ AND -foo: "bar', "NEAR(", "title:x OR", '"""', "*", "\x00\x01", "東京"])
def test_query_syntax_in_user_text_never_raises_on_tantivy(tantivy_default: CorpusIndex, hostile: str) -> None:
    assert isinstance(tantivy_default.search_sync(hostile, k=3), list)
    assert tantivy_default.search_sync("!!! ???") == []


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return scripted_cli(monkeypatch, tmp_path, capsys)


@needs_tantivy
def test_index_build_search_and_ask_use_the_backend_the_index_records(cli: CliRun, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"url": p.url, "title": p.title, "text": p.text}) + "\n" for p in PAGES))
    code, out, _ = cli([], "index", "build", "--jsonl", str(corpus), "--path", "mine.sqlite", "--backend", "tantivy")
    assert code == 0 and "indexed 4 pages" in out and "(tantivy)" in out
    code, out, _ = cli([], "index", "search", "capital of Germany", "--index", "mine.sqlite", "-k", "1")
    assert code == 0 and "Berlin" in out and "(tantivy)" in out
    search = json.dumps({"name": "search", "arguments": {"query": ["capital of Germany"]}})
    script = [f"<tool_code>{search}</tool_code>", "<answer>Berlin</answer>"]
    argv = ["--index", "mine.sqlite", "--tool-protocol", "text", "--trace", "t.jsonl", "--budget", "search=1"]
    code, _, _ = cli(script, "ask", "q", *argv)
    assert code == 0 and "Berlin is the capital of Germany" in (tmp_path / "t.jsonl").read_text()


def test_index_build_rejects_an_unknown_backend_naming_the_flag(cli: CliRun) -> None:
    code, _, err = cli([], "index", "build", "--backend", "lucene")
    assert code == 2 and "--backend" in err
