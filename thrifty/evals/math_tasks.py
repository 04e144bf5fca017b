"""An offline math task set with verifiable answers, for particle filtering and its baselines.

Each problem is a small program run on an integer: a starting amount, then 2–5 operations (buy
packs, give away a fraction, double, lose some, split into boxes, sell per day), each written as
one sentence. The answer is the program's result, so it is correct by construction; operations
are only drawn where they keep the amount a positive integer. Deterministic for a given seed.

Difficulty is a parameter: ``operations`` fixes how many operations every problem has (default:
2–5 at random), and ``distractors`` adds that many sentences with numbers that do not bear on
the answer (another person's things, a price), placed at random after the first sentence.
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


def _distractor(rng: random.Random, who: str, item: str) -> str:
    """A sentence with a number that does not change how many ``item`` ``who`` has."""
    other = rng.choice([n for n in NAMES if n != who])
    other_item = rng.choice([i for i in ITEMS if i != item])
    k = rng.randint(2, 30)
    return rng.choice(
        (
            f"{other} has {k} {other_item}.",
            f"A pack of {other_item} costs {k} dollars.",
            f"{who}'s school is {k} minutes away.",
            f"{other} gives {k} {other_item} to a neighbour.",
        )
    )


def _difficulty(ops: int) -> str:
    return "easy" if ops <= 2 else "medium" if ops == 3 else "hard"


def math_task(
    rng: random.Random, index: int, seed: int, *, operations: int | None = None, distractors: int = 0
) -> Task:
    who, item = rng.choice(NAMES), rng.choice(ITEMS)
    value = rng.randint(6, 40)
    sentences = [f"{who} has {value} {item}."]
    n_ops = rng.randint(2, 5)
    if operations is not None:
        n_ops = operations
    while len(sentences) < n_ops + 1:
        op = rng.choice(OPERATIONS)(rng, value, item, who)
        if op is not None:
            sentences.append(op.sentence)
            value = op.value
    for _ in range(distractors):
        sentences.insert(rng.randint(1, len(sentences)), _distractor(rng, who, item))
    question = " ".join(sentences) + f" How many {item} does {who} have now?"
    level = "" if operations is None and not distractors else f"o{n_ops}d{distractors}-"
    return Task(
        id=f"math-{seed}-{level}{index}",
        question=question,
        answer=str(value),
        aliases=(),
        type="math",
        difficulty=_difficulty(n_ops),
        evidence_urls=(),
        oracle_budget={},
        meta={
            "scorer": "gaia",
            "operations": n_ops,
            "distractors": distractors,
            "generator": f"math@{GENERATOR_VERSION}",
        },
    )


def generate_math(n: int, seed: int = 0, *, operations: int | None = None, distractors: int = 0) -> list[Task]:
    """``n`` problems; the same (n, seed, level) always gives the same list, and a longer list extends a
    shorter one. ``operations`` (1-8) and ``distractors`` (0-6) set the difficulty (see the module)."""
    if operations is not None and not 1 <= operations <= 8:
        raise ValueError("operations must be between 1 and 8")
    if not 0 <= distractors <= 6:
        raise ValueError("distractors must be between 0 and 6")
    rng = random.Random(f"thrifty-math-{seed}")
    return [math_task(rng, i, seed, operations=operations, distractors=distractors) for i in range(n)]
