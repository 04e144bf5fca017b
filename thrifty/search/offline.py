"""The default offline web: build the index on first use, reuse it while the corpus is unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from thrifty.paths import cache_dir
from thrifty.search.corpus import corpus_version, default_pages
from thrifty.search.index import BuildStats, CorpusIndex, build_index


def default_index_path() -> Path:
    if env := os.environ.get("THRIFTY_INDEX"):
        return Path(env)
    return cache_dir() / "web" / "default.sqlite"


def build_default_index(path: Path | None = None, *, backend: str = "auto") -> BuildStats:
    return build_index(path or default_index_path(), default_pages(), version=corpus_version(), backend=backend)


def open_default_index(path: Path | None = None) -> CorpusIndex:
    """The default index, (re)built when missing or built from other package versions."""
    path = path or default_index_path()
    if path.is_file():
        index = CorpusIndex(path)
        if index.version == corpus_version():
            return index
    build_default_index(path)
    return CorpusIndex(path)
