"""GAIA scorer parity: thrifty's scorer against the official rules on vectors built from them.

``reference_scorer`` below is the official ``question_scorer`` (GAIA leaderboard ``scorer.py``),
transcribed with its printing and warnings removed. Every vector states the rule it exercises; the
only disagreement is deliberate and listed in ``DELIBERATE``: a run that produced no answer is
wrong for thrifty, while the reference turns it into the string "None".
"""

import json
import re
import string
from pathlib import Path

from thrifty.evals.scorers import gaia_scorer

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "gaia_scorer_vectors.json").read_text())
DELIBERATE = {(None, "None")}


def _normalize_number_str(number_str: str) -> float:
    for char in ["$", "%", ","]:
        number_str = number_str.replace(char, "")
    try:
        return float(number_str)
    except ValueError:
        return float("inf")


def _split_string(s: str, char_list: tuple[str, ...] = (",", ";")) -> list[str]:
    return re.split(f"[{''.join(char_list)}]", s)


def _normalize_str(input_str: str, remove_punct: bool = True) -> str:
    no_spaces = re.sub(r"\s", "", input_str)
    if remove_punct:
        return no_spaces.lower().translate(str.maketrans("", "", string.punctuation))
    return no_spaces.lower()


def reference_scorer(model_answer: str | None, ground_truth: str) -> bool:
    def is_float(element: str) -> bool:
        try:
            float(element)
            return True
        except ValueError:
            return False

    if model_answer is None:
        model_answer = "None"
    if is_float(ground_truth):
        return _normalize_number_str(model_answer) == float(ground_truth)
    if any(char in ground_truth for char in [",", ";"]):
        gt_elems, ma_elems = _split_string(ground_truth), _split_string(model_answer)
        if len(gt_elems) != len(ma_elems):
            return False
        comparisons = []
        for ma_elem, gt_elem in zip(ma_elems, gt_elems, strict=True):
            if is_float(gt_elem):
                comparisons.append(_normalize_number_str(ma_elem) == float(gt_elem))
            else:
                comparisons.append(
                    _normalize_str(ma_elem, remove_punct=False) == _normalize_str(gt_elem, remove_punct=False)
                )
        return all(comparisons)
    return _normalize_str(model_answer) == _normalize_str(ground_truth)


def test_there_are_at_least_60_vectors_covering_every_branch() -> None:
    assert len(VECTORS) >= 60
    truths = [v["truth"] for v in VECTORS]
    assert any("," in t for t in truths) and any(";" in (v["answer"] or "") for v in VECTORS)
    assert any(v["answer"] is None for v in VECTORS) and any(v["answer"] == "" for v in VECTORS)


def test_thrifty_scores_every_vector_as_the_rules_say() -> None:
    wrong = [v for v in VECTORS if gaia_scorer(v["answer"], v["truth"]) is not v["expected"]]
    assert wrong == []


def test_the_reference_agrees_except_for_the_deliberate_difference() -> None:
    disagreements = {
        (v["answer"], v["truth"])
        for v in VECTORS
        if reference_scorer(v["answer"], v["truth"]) is not gaia_scorer(v["answer"], v["truth"])
    }
    assert disagreements == DELIBERATE
    assert reference_scorer(None, "None") is True and gaia_scorer(None, "None") is False
