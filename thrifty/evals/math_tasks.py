"""An offline math task set with verifiable answers, for particle filtering and its baselines.

Each problem is a small program run on an integer: a starting amount, then 2–5 operations (buy
packs, give away a fraction, double, lose some, split into boxes, sell per day), each written as
one sentence. The answer is the program's result, so it is correct by construction; operations
are only drawn where they keep the amount a positive integer. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from thrifty.evals.tasks import Task

GENERATOR_VERSION = "1"

NAMES = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keya", "Luis")
ITEMS = ("apples", "marbles", "stickers", "books", "coins", "pencils", "shells", "stamps", "cards", "beads")
FRACTIONS = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth"}


@dataclass(frozen=True)
class _Op:
    """One operation: its sentence and the amount after it."""

    sentence: str
    value: int


def _buy(rng: random.Random, x: int, item: str, who: str) -> _Op | None:
    k, m = rng.randint(2, 6), rng.randint(3, 12)
    return _Op(f"{who} buys {k} packs of {item} with {m} in each pack.", x + k * m)


def _give_fraction(rng: random.Random, x: int, item: str, who: str) -> _Op | None:
    d = rng.choice([d for d in FRACTIONS if x % d == 0] or [0])
    if not d:
        return None
    return _Op(f"{who} gives away {FRACTIONS[d]} of the {item}.", x - x // d)


def _double(rng: random.Random, x: int, item: str, who: str) -> _Op | None:
    if x > 500:
        return None
    return _Op(f"A friend gives {who} as many {item} as {who} already has.", 2 * x)


def _lose(rng: random.Random, x: int, item: str, who: str) -> _Op | None:
    if x < 4:
        return None
    k = rng.randint(1, max(1, x // 3))
    return _Op(f"{who} loses {k} {item}.", x - k)


def _split(rng: random.Random, x: int, item: str, who: str) -> _Op | None:
    p = rng.choice([p for p in (2, 3, 4, 5, 6) if x % p == 0 and x // p >= 2] or [0])
    if not p:
        return None
    return _Op(f"{who} splits the {item} equally into {p} boxes and keeps only one box.", x // p)


def _sell(rng: random.Random, x: int, item: str, who: str) -> _Op | None:
    days = rng.randint(2, 4)
    per_day = rng.randint(1, max(1, (x - 1) // days))
    if per_day * days >= x:
        return None
    return _Op(f"{who} sells {per_day} {item} every day for {days} days.", x - per_day * days)


OPERATIONS: tuple[Callable[[random.Random, int, str, str], _Op | None], ...] = (
    _buy,
    _give_fraction,
    _double,
    _lose,
    _split,
    _sell,
)


def _difficulty(ops: int) -> str:
    return "easy" if ops <= 2 else "medium" if ops == 3 else "hard"


def math_task(rng: random.Random, index: int, seed: int) -> Task:
    who, item = rng.choice(NAMES), rng.choice(ITEMS)
    value = rng.randint(6, 40)
    sentences = [f"{who} has {value} {item}."]
    n_ops = rng.randint(2, 5)
    while len(sentences) < n_ops + 1:
        op = rng.choice(OPERATIONS)(rng, value, item, who)
        if op is not None:
            sentences.append(op.sentence)
            value = op.value
    question = " ".join(sentences) + f" How many {item} does {who} have now?"
    return Task(
        id=f"math-{seed}-{index}",
        question=question,
        answer=str(value),
        aliases=(),
        type="math",
        difficulty=_difficulty(n_ops),
        evidence_urls=(),
        oracle_budget={},
        meta={"scorer": "gaia", "operations": n_ops, "generator": f"math@{GENERATOR_VERSION}"},
    )


def generate_math(n: int, seed: int = 0) -> list[Task]:
    """``n`` problems; the same (n, seed) always gives the same list, and a longer list extends a shorter one."""
    rng = random.Random(f"thrifty-math-{seed}")
    return [math_task(rng, i, seed) for i in range(n)]
