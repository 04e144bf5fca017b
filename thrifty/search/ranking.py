"""Ranking pieces of the offline search, as pure functions: query terms, entity keys, fusion, passages.

Why not BM25 alone: on short encyclopaedic pages BM25 favours pages that repeat the query's words
("capital of Australia" ranked Perth, Tasmania and Christmas Island above Australia). A page *about*
an entity the query names is what a user wants, so pages whose entity (title without its
disambiguation, a Factbook section's country) equals a phrase of the query get a bonus weighted by
how specific that phrase is (inverse document frequency). And a result should show the passage that
answers the query, not the page's first line: :func:`best_passage` picks it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = (
    "a an and are as at be by can could did do does for from had has have how i in is it its me of on or "
    "she he that the their there they this to was were what when where which who whom whose why will with "
    "would you your tell please know about s t d ll re ve"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Dropped from OR queries: they match nearly every page, cost time and dilute BM25."""

EXPANSIONS: Mapping[str, tuple[str, ...]] = {
    "people": ("population",),
    "inhabitants": ("population",),
    "populous": ("population",),
    "live": ("population",),
    "big": ("area",),
    "money": ("currency", "exchange"),
    "currency": ("exchange",),
    "speak": ("languages",),
    "spoken": ("languages",),
    "language": ("languages",),
    "founded": ("established", "founded"),
    "tall": ("height", "elevation"),
    "high": ("elevation", "height"),
    "highest": ("elevation", "highest"),
    "long": ("length",),
    "longest": ("length",),
    "old": ("born", "founded"),
    "older": ("born", "founded"),
    "wrote": ("written", "author", "writer"),
    "written": ("author", "writer"),
    "painted": ("painter", "painting"),
    "directed": ("director", "film"),
    "invented": ("inventor", "invention"),
    "discovered": ("discovery",),
}
"""How questions are asked → how encyclopaedic pages state the fact ("How many people live in Chile?"
must find the Factbook's "Population" line). Added as extra OR terms, never replacing the user's words."""

ENTITY_WEIGHT = 1.2
"""Bonus for a page whose entity is the query's most specific phrase, relative to the best BM25 score."""
RESIDUAL_WEIGHT = 1.0
"""Among pages about a named entity, the weight of the query's other words (picks the right section)."""
MAX_PHRASE_WORDS = 6
MAX_PHRASE_SOURCE_WORDS = 64
"""Phrases come from the first 64 words only: a pasted essay must not become thousands of SQL parameters."""


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def content_terms(text: str, *, expand: bool = True) -> list[str]:
    """Query words worth searching for: stopwords dropped (unless nothing else is left), expansions added."""
    all_words = words(text)
    content = [w for w in all_words if w not in STOPWORDS] or all_words
    if expand:
        content += [x for w in list(content) for x in EXPANSIONS.get(w, ())]
    return list(dict.fromkeys(content))


def entity_key(title: str) -> str:
    """The entity a page is about: its title without a disambiguation or a Factbook section suffix."""
    head = title.split(" - ", 1)[0]
    head = re.sub(r"\s*\([^)]*\)\s*$", "", head)
    key = words(head)
    while len(key) > 1 and key[0] in ("the", "a", "an"):  # query phrases never start with an article
        key = key[1:]
    return " ".join(key)


SURNAME_WEIGHT = 0.7
"""A page named by its last word only ("Mozart" for Wolfgang Amadeus Mozart) gets this share of the bonus."""
_NAME = re.compile(r"^[A-Z][\w'.-]*( [a-z]{1,3})?( [A-Z][\w'.-]*){1,3}$")


def entity_aliases(title: str) -> list[tuple[str, float]]:
    """The keys a query may name a page by: its entity, and for a person-like name its surname."""
    key = entity_key(title)
    aliases = [(key, 1.0)] if key else []
    head = re.sub(r"\s*\([^)]*\)\s*$", "", title.split(" - ", 1)[0]).strip()
    if _NAME.match(head) and not any(ch.isdigit() for ch in head):
        surname = words(head)[-1]
        if surname != key and surname not in STOPWORDS:
            aliases.append((surname, SURNAME_WEIGHT))
    return aliases


def query_phrases(text: str) -> list[str]:
    """Every run of up to :data:`MAX_PHRASE_WORDS` words (an entity may contain stopwords: "Leaves of Grass")."""
    ws = words(text)[:MAX_PHRASE_SOURCE_WORDS]
    found: list[str] = []
    for n in range(1, MAX_PHRASE_WORDS + 1):
        for i in range(len(ws) - n + 1):
            gram = ws[i : i + n]
            if gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
                continue
            found.append(" ".join(gram))
    return list(dict.fromkeys(found))


def idf(df: int, n_docs: int) -> float:
    return math.log((n_docs + 1) / (df + 0.5))


def specificity(phrase: str, dfs: Mapping[str, int], n_docs: int) -> float:
    """How much of a query a phrase accounts for: the IDF mass of its words."""
    return sum(idf(dfs.get(w, 0), n_docs) for w in phrase.split() if w not in STOPWORDS)


@dataclass(frozen=True, slots=True)
class Candidate:
    page_id: int
    bm25: float
    """FTS5 BM25, higher is better (0 when the page came only from an entity match)."""
    entity: str
    bonus: float = 0.0
    """For a page about an entity the query names: the naming phrase's share of the query (else 0)."""
    residual: float = 0.0
    """For a page about an entity the query names: :func:`coverage` of the query's other words (else 0)."""


def fuse(candidates: Iterable[Candidate]) -> list[tuple[float, int]]:
    """(score, page id), best first: BM25 normalised to the best candidate, plus the entity bonus,
    plus (for pages about a named entity) how well they state the rest of the query."""
    pool = list(candidates)
    top = max((c.bm25 for c in pool), default=0.0) or 1.0
    scored = [(c.bm25 / top + ENTITY_WEIGHT * c.bonus + RESIDUAL_WEIGHT * c.residual, c.page_id) for c in pool]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def diversify(ranked: list[int], entity_of: Mapping[int, str], *, per_entity: int = 2) -> list[int]:
    """At most ``per_entity`` pages about one entity ahead of the others (a country's ten Factbook
    sections must not crowd every other page out of the top k); the rest keep their order after."""
    seen: dict[str, int] = {}
    first: list[int] = []
    later: list[int] = []
    for pid in ranked:
        entity = entity_of[pid]
        seen[entity] = seen.get(entity, 0) + 1
        (first if seen[entity] <= per_entity else later).append(pid)
    return first + later


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word.rstrip("s")


def split_sentences(text: str) -> list[str]:
    """Sentences of prose, lines of Factbook-style ``Label / field: value`` text."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _scores(sentences: list[str], weights: Mapping[str, float]) -> list[float]:
    """Each sentence's sum of the weights of the (stemmed) terms it contains."""
    scores = []
    for sentence in sentences:
        present = {_stem(w) for w in words(sentence)}
        scores.append(sum(w for t, w in weights.items() if t in present))
    return scores


def _sentence_scores(sentences: list[str], query: str, title: str) -> list[float]:
    in_title = {_stem(w) for w in words(title)}
    return _scores(sentences, {_stem(t): 0.0 if _stem(t) in in_title else 1.0 for t in content_terms(query)})


def coverage(text: str, term_weights: Mapping[str, float]) -> float:
    """The share (0..1) of the terms' weight that the page's best sentence contains.

    Ranks pages about one entity by whether one line states the asked-for fact together: the
    Factbook section with "Capital / name: Abuja" beats a section that mentions "capital" in passing.
    """
    stems: dict[str, float] = {}
    for term, weight in term_weights.items():
        stems[_stem(term)] = max(weight, stems.get(_stem(term), 0.0))
    total = sum(stems.values())
    if total <= 0:
        return 0.0
    return max(_scores(split_sentences(text), stems), default=0.0) / total


def best_passage(text: str, query: str, *, title: str = "", max_chars: int = 360) -> str:
    """The window of consecutive sentences (or Factbook lines) that best covers the query's words.

    Sentences are scored by the distinct query terms they contain (crude stems, so "populous" meets
    "population"); terms of the page's own title do not count, since every sentence of a page is
    about its title and the answer is in the sentence that has the *other* words. Ties go to the
    earliest sentence (a page's opening says what it is). The best sentence is widened with its
    neighbours while it fits ``max_chars``.
    """
    sentences = split_sentences(text)
    if not sentences:
        return ""
    scores = _sentence_scores(sentences, query, title)
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    lo = hi = best
    size = len(sentences[best])
    while True:
        grown = False
        for j in (hi + 1, lo - 1):
            if 0 <= j < len(sentences) and size + 1 + len(sentences[j]) <= max_chars:
                size += 1 + len(sentences[j])
                lo, hi = min(lo, j), max(hi, j)
                grown = True
        if not grown:
            break
    passage = " ".join(sentences[lo : hi + 1])
    return passage if len(passage) <= max_chars else passage[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def extract_passages(text: str, goal: str, *, title: str = "", max_chars: int = 1200) -> str:
    """The page's sentences that best match ``goal``, in page order, within ``max_chars``.

    The page's opening sentence always comes first (it says what the page is about); the rest are
    ranked by the goal's terms they contain. A page with nothing on the goal still shows its opening.
    """
    sentences = split_sentences(text)
    if not sentences:
        return "(empty page)"
    scores = _sentence_scores(sentences, goal, title)
    ranked = sorted(range(1, len(sentences)), key=lambda i: (-scores[i], i))
    chosen = {0}
    size = len(sentences[0])
    for i in ranked:
        if size + 1 + len(sentences[i]) > max_chars:
            continue
        chosen.add(i)
        size += 1 + len(sentences[i])
    out: list[str] = []
    for i in sorted(chosen):
        if out and i - 1 not in chosen:
            out.append("…")
        out.append(sentences[i])
    return " ".join(out)[: max_chars + 200]
