"""Scorers. Each says where its rules come from.

- :func:`gaia_scorer`: the official GAIA rules (``question_scorer`` in the GAIA leaderboard's
  ``scorer.py``): numbers compared after stripping ``$``, ``%`` and ``,``; comma/semicolon lists
  compared element-wise (same length, numbers as numbers, strings without whitespace, case-folded);
  other strings compared without whitespace, case or punctuation.
- :func:`exact_match` / :func:`f1`: SQuAD's normalisation (lowercase, no punctuation or articles).
- :func:`alias_match`: for thrifty's offline tasks: exact match against any alias, or an alias
  appearing as whole words in a short answer ("The capital is Lima." is right).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def normalize_number_str(number_str: str) -> float:
    for char in ("$", "%", ","):
        number_str = number_str.replace(char, "")
    try:
        return float(number_str)
    except ValueError:
        return float("inf")


def _split(text: str) -> list[str]:
    return re.split(r"[,;]", text)


def normalize_gaia_str(text: str, *, remove_punct: bool = True) -> str:
    no_spaces = re.sub(r"\s", "", text).lower()
    return no_spaces.translate(str.maketrans("", "", string.punctuation)) if remove_punct else no_spaces


def gaia_scorer(model_answer: str | None, ground_truth: str) -> bool:
    """The official rules, with one deliberate difference: a run that produced no answer is wrong.

    The official ``question_scorer`` turns a missing answer into the string ``"None"`` (or fails,
    depending on the version), so a no-answer run would match a ground truth of "None"."""
    if model_answer is None:
        return False
    answer = model_answer
    if _is_float(ground_truth):
        return normalize_number_str(answer) == float(ground_truth)
    if any(ch in ground_truth for ch in ",;"):
        truth, given = _split(ground_truth), _split(answer)
        if len(truth) != len(given):
            return False
        return all(
            normalize_number_str(g) == float(t)
            if _is_float(t)
            else normalize_gaia_str(g, remove_punct=False) == normalize_gaia_str(t, remove_punct=False)
            for g, t in zip(given, truth, strict=True)
        )
    return normalize_gaia_str(answer) == normalize_gaia_str(ground_truth)


def normalize_answer(text: str) -> str:
    """SQuAD: lowercase, drop punctuation and articles, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, truths: Iterable[str]) -> bool:
    pred = normalize_answer(prediction or "")
    return any(pred == normalize_answer(t) for t in truths)


def f1(prediction: str | None, truth: str) -> float:
    pred_tokens = normalize_answer(prediction or "").split()
    truth_tokens = normalize_answer(truth).split()
    common = Counter(pred_tokens) & Counter(truth_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def alias_match(prediction: str | None, aliases: Iterable[str], *, max_words: int = 12) -> bool:
    if prediction is None:
        return False
    pred = normalize_answer(prediction)
    names = [normalize_answer(a) for a in aliases if a.strip()]
    if pred in names:
        return True
    if len(pred.split()) > max_words:
        return False  # long rambles that happen to mention the answer do not count
    padded = f" {pred} "
    return any(name and f" {name} " in padded for name in names)
