"""Choosing among candidate answers: normalised majority vote, and the BATS LLM judges (C.4)."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.agents.calls import ModelCaller
from thrifty.agents.prompts import load_prompt
from thrifty.agents.result import TrajectoryStep
from thrifty.backends.base import ChatRequest, Message
from thrifty.budget import BudgetExceeded
from thrifty.errors import BackendError

_BOXED = re.compile(r"\\boxed\{\s*([A-Za-z])\s*\}|Answer:\s*\(?([A-Za-z])\)?\b")


def normalize(answer: str) -> str:
    """SQuAD-style normalisation for voting: case, punctuation, articles and spacing removed."""
    text = answer.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_none(answer: str | None) -> bool:
    return answer is None or normalize(answer) in {"", "none", "unknown", "i dont know"}


def majority(answers: Sequence[str]) -> tuple[str | None, bool]:
    """The most common real answer (first seen wins ties) and whether the vote was tied."""
    real = [a for a in answers if not is_none(a)]
    if not real:
        return None, False
    counts = Counter(normalize(a) for a in real)
    ranked = counts.most_common()
    top = ranked[0][1]
    winner = next(a for a in real if counts[normalize(a)] == top)
    return winner, sum(1 for _, c in ranked if c == top) > 1


@dataclass(frozen=True, slots=True)
class Candidate:
    answer: str
    evidence: str = ""
    """A short trajectory or verification summary shown to the judge."""


def render_trajectory(steps: Sequence[TrajectoryStep], *, chars: int | None = None) -> str:
    """A run's steps and tool calls as text for a judge or verifier. BATS shows them whole (None);
    ``chars`` cuts each step and each tool output to that many characters."""

    def cut(text: str, limit: int | None) -> str:
        flat = " ".join(text.split())
        return flat if limit is None else flat[:limit]

    lines = []
    for s in steps:
        lines.append(f"Step {s.index + 1}: {cut(s.text, chars)}")
        for c in s.tool_calls:
            args = cut(json.dumps(c["arguments"], ensure_ascii=False), None if chars is None else 200)
            lines.append(f"  {c['name']}({args}) -> {cut(str(c.get('output', '')), chars)}")
    return "\n".join(lines) or "(no steps)"


def _letters(candidates: Sequence[Candidate]) -> str:
    blocks = []
    for i, c in enumerate(candidates):
        block = f"Option {chr(65 + i)}: {c.answer}"
        if c.evidence:
            block += f"\nTrajectory/verification: {c.evidence}"
        blocks.append(block)
    return "\n\n".join(blocks)


def parse_choice(text: str, n: int) -> int | None:
    for m in _BOXED.finditer(text):
        letter = (m.group(1) or m.group(2)).upper()
        index = ord(letter) - 65
        if 0 <= index < n:
            return index
    return None


async def judge(
    caller: ModelCaller, question: str, candidates: Sequence[Candidate], *, kind: str = "best_of_n", step: int = 0
) -> int | None:
    """Index of the candidate the LLM judge picks (temperature 0, as in BATS), or None if it could not."""
    if not candidates:
        return None
    if len(candidates) == 1:
        return 0
    prompt = load_prompt(f"judge_{kind}").render(question=question, candidates=_letters(candidates))
    request = ChatRequest(messages=(Message("user", prompt),), max_tokens=400, temperature=0.0)
    try:
        completion = await caller(request, step=step, purpose=f"judge:{kind}")
    except (BudgetExceeded, BackendError):
        return None
    return parse_choice(completion.text, len(candidates))
