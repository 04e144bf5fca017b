"""LLM grading in the BrowseComp style, and calibration error from the model's stated confidence.

The grader prompt follows the one in openai/simple-evals ``browsecomp_eval.py`` (extract the final
answer, compare it with the correct answer, judge yes/no, extract the response's confidence). The
reply parse is stricter than the reference's: the reference searches ``correct: (yes|no)`` anywhere
and compares the *whole match* with "yes" (so it can never be yes as written), and a plain search is
fooled by "incorrect: yes" or by capitals. Here each field is read from the start of its own line,
case-insensitively, markdown bold allowed; a missing confidence means 100 (as the template says).

Two calibration errors, labelled: :func:`calibration_error_hle` as Humanity's Last Exam reports it
(sorted by confidence, bins of 100 samples, RMS ×100) and :func:`calibration_error` (10 equal-width
confidence bins, mean absolute gap, the classic ECE).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.agents.calls import ModelCaller
from thrifty.agents.prompts import load_prompt
from thrifty.backends.base import ChatRequest, Message


@dataclass(frozen=True, slots=True)
class Grade:
    correct: bool
    extracted: str | None
    confidence: float
    """0..1; 1.0 when the response states none (as in the reference)."""


def _field(name: str, text: str) -> str | None:
    """The value of ``name:`` at the start of a line (last occurrence; ``**bold**`` tolerated)."""
    pattern = rf"^[ \t*_#>-]*{name}[ \t*_]*:[ \t*_]*(.*?)[ \t*_]*$"
    found = re.findall(pattern, text, re.IGNORECASE | re.MULTILINE)
    return found[-1].strip() if found else None


def parse_grade(text: str) -> Grade:
    verdict = _field("correct", text)
    extracted = _field("extracted_final_answer", text)
    raw_conf = _field("confidence", text)
    number = re.match(r"\d+(?:\.\d+)?", raw_conf) if raw_conf else None
    value = float(number.group(0)) / 100 if number else 1.0
    return Grade(
        correct=bool(verdict and re.match(r"yes\b", verdict, re.IGNORECASE)),
        extracted=None if extracted in (None, "") or (extracted or "").lower() == "none" else extracted,
        confidence=min(max(value, 0.0), 1.0),
    )


async def grade(caller: ModelCaller, question: str, response: str, correct_answer: str) -> Grade:
    prompt = load_prompt("browsecomp_grader").render(
        question=question, response=response, correct_answer=correct_answer
    )
    request = ChatRequest(messages=(Message("user", prompt),), max_tokens=400, temperature=0.0)
    return parse_grade((await caller(request, step=0, purpose="grade")).text)


def _check(confidences: Sequence[float], correct: Sequence[bool]) -> None:
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must have the same length")


def calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Equal-width ECE (0..1): Σ_bins (n_b / N) · |accuracy_b − mean confidence_b| over ``bins``
    confidence bins of equal width (the last one includes 1.0)."""
    _check(confidences, correct)
    if not confidences:
        return 0.0
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if members:
            accuracy = sum(correct[i] for i in members) / len(members)
            mean_conf = sum(confidences[i] for i in members) / len(members)
            total += len(members) / len(confidences) * abs(accuracy - mean_conf)
    return total


def calibration_error_hle(confidences: Sequence[float], correct: Sequence[bool], beta: int = 100) -> float:
    """Calibration error as Humanity's Last Exam reports it (0..100): samples sorted by confidence,
    cut into bins of ``beta`` (the last bin takes the remainder), then
    100 · sqrt(Σ_bins (n_b / N) · (mean confidence_b − accuracy_b)²).

    Deliberate differences from HLE's ``calib_err``: its loop skips the last bin and it fails with
    fewer than ``beta`` samples; here every bin counts and fewer than ``beta`` samples form one bin."""
    _check(confidences, correct)
    if not confidences:
        return 0.0
    order = sorted(range(len(confidences)), key=lambda i: confidences[i])
    n = len(order)
    cuts = [i * beta for i in range(max(1, n // beta))] + [n]
    total = 0.0
    for start, end in itertools.pairwise(cuts):
        members = order[start:end]
        gap = sum(confidences[i] for i in members) / len(members) - sum(correct[i] for i in members) / len(members)
        total += len(members) / n * gap * gap
    return 100 * math.sqrt(total)
