"""Offline task synthesis over the embedded corpus (World Factbook facts, Wikipedia vital people).

Questions are small typed programs executed over structured facts, so every answer is correct by
construction and unique by check (research note: shared/docs/corpus.md §5). Types:

- ``comparison``: which of two countries has the larger population (2 evidence pages);
- ``chain``: person (vital article) → nationality → country → capital (2 pages);
- ``fanout``: among the neighbours of X, the most populous one's capital (1 + k pages);
- ``inverted``: BrowseComp-style weak constraints until one country in the whole table fits (4+ pages).

Each task records evidence URLs, a difficulty label and ``oracle_budget``: the search and browse
units a scripted oracle spends (one search and one browse per evidence page). Deterministic for a
given seed and corpus version.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thrifty.search.corpus import (
    FACTBOOK_DIR,
    FACTBOOK_DIST,
    clean,
    corpus_version,
    data_path,
    factbook_url,
    wiki_pages,
)

GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class Task:
    id: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    type: str
    difficulty: str
    evidence_urls: tuple[str, ...]
    oracle_budget: dict[str, int]
    n_constraints: int = 0
    candidate_trace: tuple[int, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class Country:
    name: str
    capital: str
    capitals: tuple[str, ...]
    population: float
    area: float
    neighbours: list[str]
    landlocked: bool
    independence: int | None
    region: str
    adjective: str


def _get(node: Any, *path: str) -> str | None:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = next((v for k, v in node.items() if k.strip().lower() == key.lower()), None)
    if isinstance(node, dict):
        node = node.get("text")
    return clean(node) if isinstance(node, str) else None


def _number(text: str | None) -> float | None:
    m = re.search(r"([\d,]+(?:\.\d+)?)", text or "")
    return float(m.group(1).replace(",", "")) if m else None


def load_countries() -> dict[str, Country]:
    root = data_path(FACTBOOK_DIST, FACTBOOK_DIR)
    raw: dict[str, Country] = {}
    for path in sorted(root.glob("*/*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        name = _get(d, "Government", "Country name", "conventional short form")
        capital = _get(d, "Government", "Capital", "name")
        pop = _number(_get(d, "People and Society", "Population", "total"))
        area = _number(_get(d, "Geography", "Area", "total"))
        if not (name and capital and pop and area) or name.lower() == "none":
            continue
        capitals = tuple(c.strip() for c in re.split(r";|\bor\b", re.sub(r"\(.*?\)", "", capital)) if c.strip())
        if not capitals:
            continue
        borders = _get(d, "Geography", "Land boundaries", "border countries") or ""
        neighbours = [re.sub(r"\s*\(.*?\)|\s+[\d,.]+\s*km.*$", "", b).strip() for b in borders.split(";") if b.strip()]
        year = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", _get(d, "Government", "Independence") or "")
        raw[name] = Country(
            name=name,
            capital=capitals[0],
            capitals=capitals,
            population=pop,
            area=area,
            neighbours=neighbours,
            landlocked="landlocked" in (_get(d, "Geography", "Coastline") or ""),
            independence=int(year.group(1)) if year else None,
            region=(_get(d, "Geography", "Location") or "").split(",")[0].strip(),
            adjective=(_get(d, "People and Society", "Nationality", "adjective") or "").strip(),
        )
    for c in raw.values():
        c.neighbours = [n for n in c.neighbours if n in raw]
    return raw


def _gov(c: Country) -> str:
    return factbook_url(c.name, "Government")


def _people(c: Country) -> str:
    return factbook_url(c.name, "People and Society")


def _geo(c: Country) -> str:
    return factbook_url(c.name, "Geography")


def _task(
    kind: str, question: str, target: Country | str, evidence: list[str], difficulty: str, **meta: Any
) -> dict[str, Any]:
    answer = target.capital if isinstance(target, Country) else target
    aliases = target.capitals if isinstance(target, Country) else (target,)
    pages = list(dict.fromkeys(evidence))
    budget = {"search": len(pages), "browse": len(pages)}
    return dict(
        question=question,
        answer=answer,
        aliases=tuple(aliases),
        type=kind,
        difficulty=difficulty,
        evidence_urls=tuple(pages),
        oracle_budget=budget,
        **meta,
    )


def comparison(rng: random.Random, countries: list[Country]) -> dict[str, Any] | None:
    a, b = rng.sample(countries, 2)
    if max(a.population, b.population) < 1.2 * min(a.population, b.population):
        return None  # too close to call from rounded estimates
    winner = a if a.population > b.population else b
    q = f"According to the World Factbook, which country has the larger population: {a.name} or {b.name}?"
    return _task("comparison", q, winner.name, [_people(a), _people(b)], "easy")


def chain(
    rng: random.Random, people: list[tuple[str, str, str]], by_adjective: dict[str, Country]
) -> dict[str, Any] | None:
    title, description, url = rng.choice(people)
    adjective = description.split()[0]
    country = by_adjective.get(adjective)
    if country is None:
        return None
    role = " ".join(description.split("(")[0].split()[1:]).strip() or "person"
    article = "an" if role[:1].lower() in "aeiou" else "a"
    q = f"What is the capital of the country of which {title} ({article} {role}) was a national?"
    return _task("chain", q, country, [url, _gov(country)], "easy", meta={"person": title})


def fanout(rng: random.Random, countries: list[Country], table: dict[str, Country]) -> dict[str, Any] | None:
    seed = rng.choice(countries)
    neighbours = [table[n] for n in seed.neighbours]
    if len(neighbours) < 2:
        return None
    top = max(neighbours, key=lambda c: c.population)
    ranked = sorted(c.population for c in neighbours)
    if ranked[-1] < 1.1 * ranked[-2]:
        return None
    q = (
        f"Among the countries that share a land border with {seed.name}, which has the largest population? "
        "Give its capital."
    )
    difficulty = "medium" if len(neighbours) <= 4 else "hard"
    return _task("fanout", q, top, [_geo(seed), *(_people(c) for c in neighbours), _gov(top)], difficulty)


def _magnitude(value: float) -> int:
    return int(10 ** int(math.log10(value)))


def _decade(e: Country) -> tuple[str, Callable[[Country], bool]] | None:
    year = e.independence
    if year is None:
        return None
    return (
        f"it became independent in the {year // 10 * 10}s",
        lambda x: x.independence is not None and x.independence // 10 == year // 10,
    )


Constraint = Callable[[Country], tuple[str, Callable[[Country], bool]] | None]
_CONSTRAINTS: list[Constraint] = [
    lambda e: (f"it lies in {e.region}", lambda x: x.region == e.region) if e.region else None,
    lambda e: ("it has no coastline" if e.landlocked else "it has a sea coast", lambda x: x.landlocked == e.landlocked),
    lambda e: (
        f"its population is between {_magnitude(e.population):,} and {10 * _magnitude(e.population):,}",
        lambda x: _magnitude(x.population) == _magnitude(e.population),
    ),
    lambda e: (
        f"its area is between {_magnitude(e.area):,} and {10 * _magnitude(e.area):,} sq km",
        lambda x: _magnitude(x.area) == _magnitude(e.area),
    ),
    lambda e: (
        f"it shares land borders with exactly {len(e.neighbours)} countries",
        lambda x: len(x.neighbours) == len(e.neighbours),
    ),
    lambda e: (f"its capital's name starts with '{e.capital[0]}'", lambda x: x.capital[:1] == e.capital[:1]),
    lambda e: _decade(e),
]


def inverted(rng: random.Random, countries: list[Country]) -> dict[str, Any] | None:
    target = rng.choice(countries)
    options = [c for c in (f(target) for f in _CONSTRAINTS) if c]
    rng.shuffle(options)
    pool, used = list(countries), []
    for text, predicate in options:
        narrowed = [c for c in pool if predicate(c)]
        if len(narrowed) < len(pool):
            used.append((text, len(narrowed)))
            pool = narrowed
        if len(pool) == 1:
            break
    if len(pool) != 1 or len(used) < 2:
        return None
    q = (
        "A country satisfies all of the following: "
        + "; ".join(t for t, _ in used)
        + ". What is the name of its capital?"
    )
    evidence = [_geo(target), _people(target), _gov(target)]
    return _task(
        "inverted",
        q,
        target,
        evidence,
        "hard" if len(used) >= 4 else "medium",
        n_constraints=len(used),
        candidate_trace=tuple(n for _, n in used),
    )


Person = tuple[str, str, str]
"""A vital-article person: (title, first paragraph, URL)."""


def people_index(countries: list[Country]) -> tuple[list[Person], dict[str, Country]]:
    """People with life dates in their first paragraph, and countries by unambiguous nationality adjective."""
    by_adjective: dict[str, Country | None] = {}
    for c in countries:
        if c.adjective:
            by_adjective[c.adjective] = None if c.adjective in by_adjective else c  # ambiguous ones are unusable
    people = [
        (p.title, p.text.split(".\n\n", 1)[0], p.url)
        for p in wiki_pages()
        if re.search(r"\(\d{3,4}\s*[–-]\s*\d{3,4}\)", p.text.split(".\n\n", 1)[0])
    ]
    return people, {k: v for k, v in by_adjective.items() if v is not None}


def generate(n: int, seed: int = 0) -> list[Task]:
    """``n`` unique tasks, mixed over the four types, deterministic for ``seed`` and the corpus."""
    rng = random.Random(seed)
    table = load_countries()
    countries = sorted(table.values(), key=lambda c: c.name)
    people, by_adjective = people_index(countries)
    makers = [
        lambda: comparison(rng, countries),
        lambda: chain(rng, people, by_adjective),
        lambda: fanout(rng, countries, table),
        lambda: inverted(rng, countries),
    ]
    tasks: list[Task] = []
    seen: set[str] = set()
    version = corpus_version()
    attempts = 0
    while len(tasks) < n and attempts < n * 50:
        attempts += 1
        made = makers[len(tasks) % len(makers)]()
        if made is None or made["question"] in seen:
            continue
        if made["type"] != "comparison" and made["answer"].lower() in made["question"].lower():
            continue  # the answer must not be given away (a comparison names both options by design)
        seen.add(made["question"])
        meta = {**made.pop("meta", {}), "generator": GENERATOR_VERSION, "corpus": version, "seed": seed}
        tasks.append(Task(id=f"t{seed}-{len(tasks):04d}", meta=meta, **made))
    return tasks


def write_tasks(tasks: list[Task], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(t.to_json() + "\n" for t in tasks), encoding="utf-8")


def read_tasks(path: Path) -> Iterator[Task]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                item = json.loads(line)
                item["aliases"] = tuple(item.get("aliases", ()))
                item["evidence_urls"] = tuple(item.get("evidence_urls", ()))
                item["candidate_trace"] = tuple(item.get("candidate_trace", ()))
                yield Task(**item)
