"""Multi-hop and comparison questions over the offline corpus whose difficulty is the number of hops.

A hop is one relation followed from a named entity: a person to the country they were a national
of (their Wikipedia article, then the Factbook), or a country to its most populous land neighbour
(its Geography page, then each neighbour's People page). Both kinds share one parameter:

- ``chain`` with ``hops = h``: "What is the capital of X?" where X is reached from a person by h
  hops (h = 1 is the person's country; h = 2 its most populous neighbour; h = 3 that one's);
- ``comparison`` with ``hops = h``: "Which has the larger population: A or B?" where A and B are
  reached by h − 1 hops each (h = 1 names two countries; h = 2 names two people).

Answers are correct by construction (neighbour maxima must lead the runner-up by 10 %, population
comparisons by 20 %); the same (n, seed, hops) gives the same tasks for one corpus version.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from thrifty.evals.tasks import (
    GENERATOR_VERSION,
    Country,
    Person,
    Task,
    load_countries,
    people_index,
)
from thrifty.search.corpus import corpus_version, factbook_url

MAX_HOPS = 3


@dataclass(frozen=True)
class _Walk:
    """Where ``hops`` hops from a start lead: the country, how the question names it, the pages read."""

    country: Country
    phrase: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class _Corpus:
    countries: list[Country]
    table: dict[str, Country]
    people: list[Person]
    by_adjective: dict[str, Country]


def _person_country(rng: random.Random, corpus: _Corpus) -> _Walk | None:
    title, description, url = rng.choice(corpus.people)
    country = corpus.by_adjective.get(description.split()[0])
    if country is None:
        return None
    role = " ".join(description.split("(")[0].split()[1:]).strip() or "person"
    article = "an" if role[:1].lower() in "aeiou" else "a"
    phrase = f"the country of which {title} ({article} {role}) was a national"
    return _Walk(country, phrase, (url, factbook_url(country.name, "People and Society")))


def _largest_neighbour(start: _Walk, corpus: _Corpus, visited: set[str]) -> _Walk | None:
    neighbours = [corpus.table[n] for n in start.country.neighbours if n not in visited]
    if not neighbours:
        return None
    ranked = sorted(neighbours, key=lambda c: c.population, reverse=True)
    if len(ranked) > 1 and ranked[0].population < 1.1 * ranked[1].population:
        return None  # too close to call from rounded estimates
    people = (factbook_url(c.name, "People and Society") for c in ranked)
    pages = (factbook_url(start.country.name, "Geography"), *people)
    phrase = f"the most populous country sharing a land border with {start.phrase}"
    return _Walk(ranked[0], phrase, (*start.evidence, *pages))


def walk(rng: random.Random, corpus: _Corpus, hops: int) -> _Walk | None:
    """A country ``hops`` hops from a named start (0 hops: a country named outright)."""
    if hops == 0:
        country = rng.choice(corpus.countries)
        return _Walk(country, country.name, (factbook_url(country.name, "People and Society"),))
    current = _person_country(rng, corpus)
    visited = set() if current is None else {current.country.name}
    for _ in range(hops - 1):
        if current is None:
            return None
        current = _largest_neighbour(current, corpus, visited)
        if current is not None:
            visited.add(current.country.name)
    return current


def hop_chain(rng: random.Random, corpus: _Corpus, hops: int) -> dict[str, Any] | None:
    end = walk(rng, corpus, hops)
    if end is None:
        return None
    question = f"What is the capital of {end.phrase}?"
    pages = (*end.evidence, factbook_url(end.country.name, "Government"))
    return _made("chain", question, end.country.capital, end.country.capitals, pages, hops)


def hop_comparison(rng: random.Random, corpus: _Corpus, hops: int) -> dict[str, Any] | None:
    a, b = walk(rng, corpus, hops - 1), walk(rng, corpus, hops - 1)
    if a is None or b is None or a.country.name == b.country.name:
        return None
    if max(a.country.population, b.country.population) < 1.2 * min(a.country.population, b.country.population):
        return None
    winner = a.country if a.country.population > b.country.population else b.country
    question = f"Which has the larger population: {a.phrase} or {b.phrase}? Name the country."
    return _made("comparison", question, winner.name, (winner.name,), (*a.evidence, *b.evidence), hops)


def _made(
    kind: str, question: str, answer: str, aliases: tuple[str, ...], pages: tuple[str, ...], hops: int
) -> dict[str, Any]:
    unique = tuple(dict.fromkeys(pages))
    difficulty = "easy" if hops == 1 else "medium" if hops == 2 else "hard"
    budget = {"search": len(unique), "browse": len(unique)}
    return dict(
        question=question,
        answer=answer,
        aliases=aliases,
        type=kind,
        difficulty=difficulty,
        evidence_urls=unique,
        oracle_budget=budget,
    )


def generate_hops(n: int, seed: int = 0, *, hops: int = 2) -> list[Task]:
    """``n`` unique tasks alternating chain and comparison, each ``hops`` hops deep (1-3)."""
    if not 1 <= hops <= MAX_HOPS:
        raise ValueError(f"hops must be between 1 and {MAX_HOPS}")
    rng = random.Random(f"thrifty-hops-{seed}-{hops}")
    table = load_countries()
    countries = sorted(table.values(), key=lambda c: c.name)
    people, by_adjective = people_index(countries)
    corpus = _Corpus(countries, table, people, by_adjective)
    makers = (hop_chain, hop_comparison)
    tasks: list[Task] = []
    seen: set[str] = set()
    version = corpus_version()
    for attempt in range(n * 200):
        if len(tasks) >= n:
            break
        made = makers[attempt % 2](rng, corpus, hops)
        if made is None or made["question"] in seen:
            continue
        if made["type"] == "chain" and made["answer"].lower() in made["question"].lower():
            continue  # the answer must not be given away
        seen.add(made["question"])
        meta = {"generator": f"hops@{GENERATOR_VERSION}", "corpus": version, "seed": seed, "hops": hops}
        tasks.append(Task(id=f"h{seed}-{hops}-{len(tasks):04d}", meta=meta, **made))
    return tasks
