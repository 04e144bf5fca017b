"""LLM grading in the BrowseComp style, and calibration error from the model's stated confidence.

The grader prompt follows the one in openai/simple-evals ``browsecomp_eval.py`` (extract the final
answer, compare it with the correct answer, judge yes/no, extract the response's confidence).
Calibration error is the binned expected calibration error (10 equal-width confidence bins).
"""

from __future__ import annotations

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


def parse_grade(text: str) -> Grade:
    correct = re.search(r"correct:\s*(yes|no)", text, re.IGNORECASE)
    extracted = re.search(r"extracted_final_answer:\s*(.+)", text)
    confidence = re.search(r"confidence:\s*(\d+(?:\.\d+)?)", text, re.IGNORECASE)
    value = float(confidence.group(1)) / 100 if confidence else 1.0
    answer = extracted.group(1).strip() if extracted else None
    return Grade(
        correct=bool(correct and correct.group(1).lower() == "yes"),
        extracted=None if answer in (None, "None") else answer,
        confidence=min(max(value, 0.0), 1.0),
    )


async def grade(caller: ModelCaller, question: str, response: str, correct_answer: str) -> Grade:
    prompt = load_prompt("browsecomp_grader").render(
        question=question, response=response, correct_answer=correct_answer
    )
    request = ChatRequest(messages=(Message("user", prompt),), max_tokens=400, temperature=0.0)
    return parse_grade((await caller(request, step=0, purpose="grade")).text)


def calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: Σ_bins (n_b / N) · |accuracy_b − mean confidence_b|."""
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must have the same length")
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
