"""Extra offline "sites" from dictd databases present on the machine (Debian's dict-foldoc, dict-jargon).

A dictd database is an ``.index`` file (``headword<TAB>offset<TAB>length``, numbers in dictd's
base64 digits) plus a ``.dict`` or gzip-compatible ``.dict.dz`` body. Each headword becomes a page.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from thrifty.search.base import Page

DICTD_DIR = Path("/usr/share/dictd")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
SITES = {"foldoc": "https://foldoc.org/", "jargon": "http://www.catb.org/jargon/html/"}
"""Known databases and the URL prefix their pages get."""


def b64_number(text: str) -> int:
    value = 0
    for ch in text:
        value = value * 64 + _B64.index(ch)
    return value


def dictd_pages(index: Path, body: Path, url_prefix: str, source: str) -> Iterator[Page]:
    data = gzip.decompress(body.read_bytes()) if body.suffix == ".dz" else body.read_bytes()
    seen: dict[str, int] = {}
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00-database"):
            continue
        word, offset, length = parts[0], b64_number(parts[1]), b64_number(parts[2])
        text = data[offset : offset + length].decode("utf-8", errors="replace").strip()
        n = seen.get(word, 0)
        seen[word] = n + 1
        url = url_prefix + quote(word) + (f"#{n + 1}" if n else "")
        yield Page(url=url, title=word, text=text, source=source)


def installed_sites(directory: Path = DICTD_DIR) -> list[tuple[str, Path, Path]]:
    """(name, index, body) of the known databases installed on this machine."""
    found = []
    for name in SITES:
        index = directory / f"{name}.index"
        body = next((p for p in (directory / f"{name}.dict.dz", directory / f"{name}.dict") if p.is_file()), None)
        if index.is_file() and body is not None:
            found.append((name, index, body))
    return found


def site_pages(directory: Path = DICTD_DIR) -> Iterator[Page]:
    for name, index, body in installed_sites(directory):
        yield from dictd_pages(index, body, SITES[name], name)
