"""Check the quality benchmark's questions against the embedded offline corpus.

For every question in ``questions.jsonl``: the fields are present and typed, the id is unique, the type
is known, each gold URL is a page of the corpus (``thrifty.search.corpus.default_pages()``), each quote is
a verbatim substring of one of its gold pages (whitespace collapsed), every gold page carries a quote,
the answer or an alias appears in a quote (for comparisons: in the question, which names both
candidates), and two-hop and comparison questions cite two pages. Prints the counts per type and exits
non-zero on any failure.

Run:  python benchmarks/quality/verify_questions.py [path/to/questions.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from thrifty.search.corpus import default_pages

QUESTIONS = Path(__file__).with_name("questions.jsonl")
TYPES = ("single-hop", "two-hop", "comparison", "number")
MULTI_PAGE = {"two-hop", "comparison"}
MIN_QUESTIONS = 170
MAX_PAGE_USES = 2
"""A page may back at most this many questions, so the set spreads over the corpus."""


def flat(text: str) -> str:
    """Whitespace collapsed: quotes are compared on this form."""
    return " ".join(text.split())


def words(text: str) -> str:
    """Lowercase words, punctuation (ASCII or not) as separators: "8,849 m" -> "8 849 m"."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def mentions(text: str, name: str) -> bool:
    """``name`` appears in ``text`` as whole words."""
    needle = words(name)
    return bool(needle) and f" {needle} " in f" {words(text)} "


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) and x.strip() for x in value)


def check_fields(q: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{key} must be a non-empty string"
        for key in ("id", "question", "answer")
        if not isinstance(q.get(key), str) or not q[key].strip()
    ]
    if q.get("type") not in TYPES:
        problems.append(f"type {q.get('type')!r} is not one of {', '.join(TYPES)}")
    if not _strings(q.get("aliases", [])):
        problems.append("aliases must be a list of non-empty strings")
    for key in ("gold_urls", "quotes"):
        if not _strings(q.get(key)) or not q[key]:
            problems.append(f"{key} must be a non-empty list of non-empty strings")
    return problems


def check_question(q: Mapping[str, Any], pages: Mapping[str, str]) -> list[str]:
    """Problems with one question (an empty list when it is sound)."""
    problems = check_fields(q)
    if problems:
        return problems
    urls: list[str] = q["gold_urls"]
    quotes: list[str] = q["quotes"]
    names = [q["answer"], *q.get("aliases", [])]
    missing = [url for url in urls if url not in pages]
    problems += [f"gold URL not in the corpus: {url}" for url in missing]
    present = {url: flat(pages[url]) for url in urls if url in pages}
    quoted: set[str] = set()
    for quote in quotes:
        hits = [url for url, text in present.items() if flat(quote) in text]
        quoted.update(hits)
        if not hits and not missing:
            problems.append(f"quote not found verbatim in any gold page: {quote!r}")
    if not missing:
        problems += [f"no quote supports gold page {url}" for url in urls if url not in quoted]
    if len(set(urls)) != len(urls):
        problems.append("duplicate gold URL")
    if q["type"] in MULTI_PAGE and len(set(urls)) < 2:
        problems.append(f"a {q['type']} question needs two gold pages")
    if q["type"] == "comparison":
        if not any(mentions(q["question"], name) for name in names):
            problems.append(f"comparison answer {q['answer']!r} is not one of the entities named in the question")
    elif not any(mentions(quote, name) for quote in quotes for name in names):
        problems.append(f"neither the answer {q['answer']!r} nor an alias appears in a quote")
    return problems


def check(questions: list[dict[str, Any]], pages: Mapping[str, str]) -> list[str]:
    """Every problem in the set, each prefixed with its question id (or line)."""
    problems: list[str] = []
    ids: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    uses: Counter[str] = Counter()
    for n, q in enumerate(questions, 1):
        label = str(q.get("id") or f"line {n}")
        problems += [f"{label}: {p}" for p in check_question(q, pages)]
        ids[label] += 1
        texts[words(str(q.get("question", "")))] += 1
        uses.update(set(q.get("gold_urls") or []))
    problems += [f"{qid}: id used {count} times" for qid, count in ids.items() if count > 1]
    problems += [f"question asked {count} times: {text!r}" for text, count in texts.items() if count > 1]
    problems += [
        f"page backs {count} questions (at most {MAX_PAGE_USES}): {url}"
        for url, count in uses.items()
        if count > MAX_PAGE_USES
    ]
    if len(questions) < MIN_QUESTIONS:
        problems.append(f"only {len(questions)} questions (at least {MIN_QUESTIONS} wanted)")
    return problems


def load_questions(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{n}: expected a JSON object")
        rows.append(row)
    return rows


def corpus_texts(pages: Iterable[Any]) -> dict[str, str]:
    return {page.url: page.text for page in pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, default=QUESTIONS)
    args = parser.parse_args(argv)
    questions = load_questions(args.path)
    problems = check(questions, corpus_texts(default_pages()))
    counts = Counter(str(q.get("type")) for q in questions)
    print(f"{len(questions)} questions: " + ", ".join(f"{t} {counts.get(t, 0)}" for t in TYPES))
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"{len(problems)} problem(s)" if problems else "all checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
