"""The comparison rail: a choice question ("Which is older, A or B?") is settled one option at a time.

Why: on the quality benchmark the 1.5B answered comparison questions at 0.38 even when handed both
gold pages (oracle context): it reads "Lake Victoria 68,800 km²" and "Caspian Sea 371,000 km²" side
by side and still names the first, or the option its prior favours. Small models find a value well
(single-hop with the page in view: 1.00) and compare two numbers in prose badly. So one short
charged call splits the question into its two options and the question to ask about each ("How long
is #1?"); each is searched and read like a single-hop question; then the two values are compared in
code when both are numbers or dates of one kind and the question says which way wins ("older",
"more"), and by one charged call with just the two facts in view otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from thrifty.agents.prompts import load_prompt
from thrifty.agents.replies import fields_request, is_abstention, reply_object
from thrifty.backends.base import ChatRequest

Kind = Literal["date", "quantity"]

_DATE_ASK = re.compile(r"^\s*(when|in (what|which) year|what year|on what date)\b", re.IGNORECASE)
_SMALLER_DATE = frozenset({"older", "oldest", "first", "earlier", "earliest", "sooner", "before", "elder"})
_LARGER_DATE = frozenset({"younger", "youngest", "later", "latest", "last", "newer", "newest", "recent", "after"})
_LARGER = frozenset(
    {"more", "most", "bigger", "biggest", "larger", "largest", "longer", "longest", "higher", "highest"}
    | {"taller", "tallest", "greater", "greatest", "heavier", "deeper", "deepest", "wider", "faster"}
    | {"richer", "hotter", "denser", "populous"}
)
_SMALLER = frozenset(
    {"fewer", "less", "least", "smaller", "smallest", "shorter", "shortest", "lower", "lowest", "lighter"}
    | {"shallower", "narrower", "slower", "poorer", "colder"}
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    )
}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_UNIT_NAMES = {
    "km": ("km", "kilometres", "kilometers"),
    "mi": ("mi", "miles"),
    "m": ("m", "metres", "meters"),
    "ft": ("ft", "feet"),
    "km2": ("km2", "km²", "sq km", "square kilometres", "square kilometers"),
    "mi2": ("mi2", "mi²", "sq mi", "square miles"),
}
_UNITS = {name: unit for unit, names in _UNIT_NAMES.items() for name in names}
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(thousand|million|billion|trillion)?\s*"
    r"(square kilometres|square kilometers|square miles|sq km|sq mi|km²|km2|mi²|mi2|kilometres|kilometers"
    r"|km|miles|mi|metres|meters|m|feet|ft)?(?![\w²])",
    re.IGNORECASE,
)


def _direction(question: str, kind: Kind) -> Literal["min", "max"] | None:
    """Which value wins, from the question's comparative ("older" on dates: the smaller year)."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    if kind == "date":
        small, large = words & _SMALLER_DATE, words & _LARGER_DATE
    else:
        small, large = words & _SMALLER, words & _LARGER
    if bool(small) == bool(large):
        return None
    return "min" if small else "max"


def parse_date(value: str) -> tuple[int, int, int] | None:
    """(year, month, day) of the first date in ``value`` (month and day 0 when not given); a century
    ("12th century") is its first year; BC years are negative."""
    text = value.lower().replace(",", " ")
    if century := re.search(r"\b(\d{1,2})(st|nd|rd|th) century( bce?)?", text):
        start = (int(century.group(1)) - 1) * 100
        return (-start - 100 if century.group(3) else start, 0, 0)
    year = re.search(r"(?<![\d.])(\d{3,4})(?![\d.])(\s*(bce?|ad|ce)\b)?", text)
    if year is None:
        return None
    sign = -1 if year.group(3) in ("bc", "bce") else 1
    month = next((n for m, n in _MONTHS.items() if re.search(rf"\b{m}[a-z]*\b", text)), 0)
    day = re.search(r"(?<!\d)([0-3]?\d)(st|nd|rd|th)?(?!\d)", text.replace(year.group(1), " "))
    return (sign * int(year.group(1)), month, int(day.group(1)) if month and day else 0)


def parse_quantity(value: str) -> tuple[float, str] | None:
    """The first number in ``value`` with its scale word and unit ("1.2 billion" → 1.2e9)."""
    match = _NUMBER.search(value)
    if match is None:
        return None
    number = float(match.group(1).replace(",", "") + (match.group(2) or ""))
    scale = _SCALE.get((match.group(3) or "").lower(), 1.0)
    unit = _UNITS.get(" ".join((match.group(4) or "").lower().split()), "")
    return number * scale, unit


def decide(question: str, ask: str, values: tuple[str, str]) -> int | None:
    """The index (0 or 1) of the option that wins, when both values are numbers or dates of one kind
    and the question says which way wins; None when code cannot tell (the model then compares)."""
    kind: Kind = "date" if _DATE_ASK.search(ask) else "quantity"
    way = _direction(question, kind)
    if way is None:
        return None
    keys = _date_keys(values) if kind == "date" else _amount_keys(values)
    if keys is None or keys[0] == keys[1]:
        return None
    smaller_second = keys[1] < keys[0]
    return int(smaller_second if way == "min" else not smaller_second)


def _date_keys(values: tuple[str, str]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """Both dates, compared by year alone unless both give a month."""
    a, b = parse_date(values[0]), parse_date(values[1])
    if a is None or b is None:
        return None
    return (a, b) if a[1] and b[1] else ((a[0],), (b[0],))


def _amount_keys(values: tuple[str, str]) -> tuple[tuple[float], tuple[float]] | None:
    """Both amounts, when they are in one unit (or either gives none)."""
    a, b = parse_quantity(values[0]), parse_quantity(values[1])
    if a is None or b is None or (a[1] and b[1] and a[1] != b[1]):
        return None
    return (a[0],), (b[0],)


def _content(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W_]+", text.lower()) if w not in ("the", "a", "an", "s")]


def _in_question(option: str, question: str) -> bool:
    words, asked = _content(option), set(_content(question))
    return bool(words) and all(w in asked for w in words)


@dataclass(frozen=True, slots=True)
class Compare:
    """A choice question between two named options: split into the options and the question to ask
    about each (one charged call), each searched and read, then compared (see the module docstring)."""

    max_tokens: int = 64
    choose_max_tokens: int = 24

    def applies(self, question: str) -> bool:
        return re.search(r"\bor\b", question, re.IGNORECASE) is not None

    def request(self, question: str, *, json_protocol: bool) -> ChatRequest:
        prompt = load_prompt("compare").render(question=question)
        fields = {"a": 80, "b": 80, "ask": 160}
        return fields_request(prompt, fields, max_tokens=self.max_tokens, constrained=json_protocol)

    @staticmethod
    def parse(text: str, question: str) -> tuple[str, str, str] | None:
        """(option a, option b, the question about ``#1``), or None when the reply does not name two
        different options the question states, or its question has no ``#1``."""
        obj = reply_object(text)
        if obj is None:
            return None
        a, b, ask = (" ".join(str(obj.get(k) or "").split()).strip(" ?.") for k in ("a", "b", "ask"))
        if not (_in_question(a, question) and _in_question(b, question)) or _content(a) == _content(b):
            return None
        if ask.count("#1") != 1 or len(_content(ask.replace("#1", ""))) < 1:
            return None
        return a, b, ask + "?"

    @staticmethod
    def ask_about(ask: str, option: str) -> str:
        return ask.replace("#1", option)

    def choose_request(self, question: str, facts: str, *, json_protocol: bool) -> ChatRequest:
        prompt = load_prompt("compare_choose").render(question=question, facts=facts)
        return fields_request(prompt, {"answer": 80}, max_tokens=self.choose_max_tokens, constrained=json_protocol)

    @staticmethod
    def parse_choice(text: str, options: tuple[str, str]) -> str | None:
        """The option the reply names, or None when it names neither or both."""
        obj = reply_object(text)
        answer = str(obj.get("answer") or "") if obj is not None else ""
        if is_abstention(answer):
            return None
        said = set(_content(answer))
        named = [o for o in options if set(_content(o)) <= said]
        return named[0] if len(named) == 1 else None
