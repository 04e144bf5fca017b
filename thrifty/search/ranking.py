"""Ranking pieces of the offline search, as pure functions: query terms, entity keys, fusion, passages.

Why not BM25 alone: on short encyclopaedic pages BM25 favours pages that repeat the query's words
("capital of Australia" ranked Perth, Tasmania and Christmas Island above Australia). A page *about*
an entity the query names is what a user wants, so pages whose entity (title without its
disambiguation, a Factbook section's country) equals a phrase of the query get a bonus weighted by
how specific that phrase is (inverse document frequency). And a result should show the passage that
answers the query, not the page's first line: :func:`best_passage` picks it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import snowballstemmer  # type: ignore[import-untyped]

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
    "bigger": ("area",),
    "biggest": ("area",),
    "larger": ("area",),
    "largest": ("area",),
    "size": ("area",),
    "large": ("area",),
    "square": ("sq",),
    "kilometres": ("km",),
    "kilometers": ("km",),
    "miles": ("mi",),
    "independent": ("independence",),
    "money": ("currency", "exchange"),
    "currency": ("exchange",),
    "speak": ("languages",),
    "spoken": ("languages",),
    "language": ("languages",),
    "founded": ("established", "founder"),
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
    "discovered": ("discovery", "discoverer"),
    "composed": ("composer",),
    "created": ("creator",),
    "designed": ("designer",),
}
"""How questions are asked → how encyclopaedic pages state the fact ("How many people live in Chile?"
must find the Factbook's "Population" line). Added as extra OR terms, never replacing the user's words."""

VAGUE = frozenset(
    [
        "more",
        "most",
        "less",
        "fewer",
        "least",
        "many",
        "much",
        "than",
        "earlier",
        "later",
        "became",
        "become",
        "country",
        "countries",
        "name",
        "called",
    ]
)
"""Words of how a question is put rather than what it asks ("Which country has more people…"): kept
in the search, but no evidence that a line states the asked-for fact."""

ENTITY_WEIGHT = 1.2
"""Bonus for a page whose entity is the query's most specific phrase, relative to the best BM25 score."""
RESIDUAL_WEIGHT = 2.0
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


PEER_SHARE = 0.75
"""Which named entities are what the query is about ("India or Argentina"), not words of the question
("capital", "area", which are page titles too): those written with capitals where the query has
any, else those named about as specifically as the main one (this share of its bonus)."""
PROPER = re.compile(r"(?<=\S )[A-Z][\w'-]*")
"""Capitalised words after the first (a sentence's first word is capitalised whatever it is)."""


def query_subjects(query: str, bonuses: Mapping[str, float]) -> set[str]:
    """The named entity keys (with their bonus) that the query is about; see :data:`PEER_SHARE`."""
    capitalised = set(words(" ".join(PROPER.findall(query))))
    if capitalised:
        named = {key: [w for w in key.split() if w not in STOPWORDS] for key in bonuses}
        found = {key for key, ws in named.items() if ws and capitalised.issuperset(ws)}
    else:
        top = max(bonuses.values(), default=0.0)
        found = {key for key, bonus in bonuses.items() if bonus >= PEER_SHARE * top}
    # "Giza" inside "Great Pyramid of Giza" names a part of the subject, not another one.
    return {key for key in found if not any(f" {key} " in f" {other} " for other in found if other != key)}


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
    """:func:`coverage` of the query's other words on a page about a named entity, else :func:`mention`'s share."""


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


_STEMMER = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Snowball (Porter 2) stem, as the FTS5 index's ``porter`` tokenizer sees words: "populous" meets
    "population", while "capita" stays apart from "capital" (a prefix stem would merge them)."""
    return str(_STEMMER.stemWord(word))


def split_sentences(text: str) -> list[str]:
    """Sentences of prose, lines of Factbook-style ``Label / field: value`` text."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


_LABEL = re.compile(r"^([A-Z][^:.]{0,60}):\s")
VALUE_SHARE = 0.5
PROSE_SHARE = 0.75
FIELD_SHARE = 0.4
"""A concept counts in full in a ``Label / field: value`` line's label, this much in prose, and
:data:`VALUE_SHARE` in a label's value: "Capital / name: Abuja" states the capital, a sentence that
says "capital" may, and "capital expenditure" in an economy line only mentions the word. Of a label's
credit, :data:`FIELD_SHARE` depends on how much of its field name the query asks for."""


Concepts = Mapping[frozenset[str], float]
"""Query concepts: the stems of a word and its expansions ("people", "population") → one weight."""


def _stems(text: str, prefixes: frozenset[str]) -> set[str]:
    """The stems of ``text``'s words that could equal a wanted stem (same first three letters).

    Stemming every word of every candidate page costs more than the rest of a search; a word whose
    start differs from every wanted stem cannot stem to one of them (a Snowball stem is a prefix of
    its word, bar a final y → i), so it is skipped.
    """
    return {_stem(w) for w in words(text) if w[:3] in prefixes}


def _sentence_score(sentence: str, concepts: Concepts, wanted: frozenset[str], prefixes: frozenset[str]) -> float:
    """The weights of the concepts a sentence contains, in its label in full, in its value less."""
    label = _LABEL.match(sentence)
    if label is None:
        present = _stems(sentence, prefixes)
        return PROSE_SHARE * sum(w for forms, w in concepts.items() if forms & present)
    in_label = _stems(label.group(1), prefixes)
    in_value = _stems(sentence[label.end() :], prefixes)
    field = words(label.group(1).split(" / ", 1)[0])
    # "Population / total" is the population line; "Electricity access / … total population" is not.
    precision = len(_stems(" ".join(field), prefixes) & wanted) / max(1, len(field))
    score = 0.0
    for forms, weight in concepts.items():
        if forms & in_label:
            score += (1.0 - FIELD_SHARE + FIELD_SHARE * precision) * weight
        elif forms & in_value:
            score += VALUE_SHARE * weight
    return score


def _scores(sentences: list[str], concepts: Concepts) -> list[float]:
    wanted = frozenset().union(*concepts)
    prefixes = frozenset(stem[:3] for stem in wanted)
    return [_sentence_score(sentence, concepts, wanted, prefixes) for sentence in sentences]


def concepts(query: str, weight: Callable[[str], float], *, exclude: Iterable[str] = ()) -> dict[frozenset[str], float]:
    """The query's content words, each with its expansions as one concept weighted by ``weight(word)``.

    Words in ``exclude`` and :data:`VAGUE` words are left out. A concept found by any of its forms
    counts once, so a line stating "Population" is not outscored by prose that says "more people".
    """
    skip = set(exclude) | VAGUE
    found: dict[frozenset[str], float] = {}
    for word in content_terms(query, expand=False):
        if word not in skip:
            forms = frozenset(_stem(f) for f in (word, *EXPANSIONS.get(word, ())))
            found[forms] = max(weight(word), found.get(forms, 0.0))
    return found


def _sentence_scores(sentences: list[str], query: str, title: str) -> list[float]:
    in_title = {_stem(w) for w in words(title)}
    found = concepts(query, lambda _: 1.0)
    return _scores(sentences, {forms: 0.0 if forms & in_title else w for forms, w in found.items()})


def _units(text: str) -> list[str]:
    """A labelled line (``Label / field: value``) stays whole, so sentences of its value keep the
    label and score as value; unlabelled text is split into sentences."""
    units: list[str] = []
    for line in text.splitlines():
        units.extend([line] if _LABEL.match(line) else split_sentences(line))
    return units


def coverage(text: str, found: Concepts) -> float:
    """The share (0..1) of the concepts' weight that the page's best sentence or labelled line holds.

    Ranks pages about one entity by whether one line states the asked-for fact together: the
    Factbook section with "Capital / name: Abuja" beats a section that mentions "capital" in passing.
    """
    total = sum(found.values())
    if total <= 0:
        return 0.0
    return max(_scores(_units(text), found), default=0.0) / total


MENTION_SHARE = 0.5
"""For a page *not* about the query's subject, the share of :data:`RESIDUAL_WEIGHT` that a sentence naming
the subject with what is asked earns: an inverse question's answer lives on another page ("Who invented
the World Wide Web?": "… the inventor of the World Wide Web" on Tim Berners-Lee's page, BM25's 17th)."""


def mention(text: str, subjects: Iterable[str], found: Concepts) -> float:
    """:func:`coverage` of ``found`` by the units of ``text`` naming one of ``subjects`` (entity keys)."""
    keys, lowered = [f" {key} " for key in subjects if key], text.lower()
    if not any(k.split()[0] in lowered for k in keys):  # a cheap filter: most candidates name no subject
        return 0.0
    spaced = ((u, f" {' '.join(words(u))} ") for u in _units(text))  # a unit's words once, for every key
    return coverage("\n".join(u for u, ws in spaced if any(k in ws for k in keys)), found)


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
