"""BrowseComp end to end: decryption vectors made with the official scheme, a robust grader parse,
and both calibration errors."""

import base64
import csv
import json
from pathlib import Path

import pytest

from thrifty.errors import ConfigError
from thrifty.evals.datasets import decrypt, encrypt, load
from thrifty.evals.grader import calibration_error, calibration_error_hle, parse_grade

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "browsecomp_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["plaintext"][:20] or "empty")
def test_decryption_vectors(vector: dict[str, str]) -> None:
    assert decrypt(vector["ciphertext"], vector["canary"]) == vector["plaintext"]
    assert encrypt(vector["plaintext"], vector["canary"]) == vector["ciphertext"]


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["problem", "answer", "problem_topic", "canary"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_browsecomp_csv_decrypts_row_by_row_and_a_wrong_canary_is_a_clear_error(tmp_path: Path) -> None:
    good = [
        {
            "problem": v["ciphertext"],
            "answer": encrypt("Lima", v["canary"]),
            "problem_topic": "t",
            "canary": v["canary"],
        }
        for v in VECTORS[:3]
    ]
    tasks = list(load(_csv(tmp_path / "bc.csv", good)))
    assert [t.question for t in tasks] == [v["plaintext"] for v in VECTORS[:3]]
    assert {t.answer for t in tasks} == {"Lima"}
    # A ciphertext made with another canary: its bytes are not UTF-8 (this one is checked to be so).
    wrong = encrypt("Zürich — a city", "another canary")
    with pytest.raises(UnicodeDecodeError):
        decrypt(wrong, "canary")
    bad = [{"problem": wrong, "answer": encrypt("x", "canary"), "problem_topic": "t", "canary": "canary"}]
    with pytest.raises(ConfigError, match="row 1 does not decrypt"):
        list(load(_csv(tmp_path / "wrong.csv", bad)))
    not_b64 = [
        {"problem": "%%%not base64%%%", "answer": base64.b64encode(b"x").decode(), "problem_topic": "", "canary": "c"}
    ]
    with pytest.raises(ConfigError, match="bad base64"):
        list(load(_csv(tmp_path / "b64.csv", not_b64)))


@pytest.mark.parametrize(
    ("reply", "correct", "extracted", "confidence"),
    [
        ("extracted_final_answer: Lima\nreasoning: same\ncorrect: yes\nconfidence: 85%", True, "Lima", 0.85),
        ("extracted_final_answer: Lima\nreasoning: same\nCorrect: Yes\nConfidence: 85", True, "Lima", 0.85),
        ("extracted_final_answer: Lima\nreasoning: same\nCORRECT: YES", True, "Lima", 1.0),  # no confidence: 100
        ("**extracted_final_answer:** Lima\n**correct:** yes\n**confidence:** 40%", True, "Lima", 0.4),
        (
            "extracted_final_answer: Quito\nreasoning: the response is incorrect: yes, it differs\ncorrect: no\n"
            "confidence: 90%",
            False,
            "Quito",
            0.9,
        ),
        ("extracted_final_answer: None\nreasoning: nothing to extract\ncorrect: no\nconfidence: 0%", False, None, 0.0),
        ("extracted_final_answer: Lima\nincorrect: yes\nconfidence: 70%", False, "Lima", 0.7),  # no verdict line
        ("extracted_final_answer: Lima\ncorrect: yes, it matches\nconfidence: 150%", True, "Lima", 1.0),
        ("I could not follow the format.", False, None, 1.0),
    ],
)
def test_the_grader_reply_parse_is_robust(reply: str, correct: bool, extracted: str | None, confidence: float) -> None:
    grade = parse_grade(reply)
    assert (grade.correct, grade.extracted, grade.confidence) == (correct, extracted, confidence)


def test_calibration_error_in_the_hle_form_and_the_equal_width_form() -> None:
    # 100 answers at 50% confidence, half right (calibrated), 100 at 90%, all right (under-confident).
    conf = [0.5] * 100 + [0.9] * 100
    right = [i % 2 == 0 for i in range(100)] + [True] * 100
    assert calibration_error_hle(conf, right) == pytest.approx(100 * (0.5 * 0.1**2) ** 0.5)  # 7.07
    assert calibration_error(conf, right) == pytest.approx(0.5 * 0.1)  # 0.05 (fraction, equal-width bins)
    # Fewer than 100 samples: one bin (HLE's own code fails here).
    assert calibration_error_hle([0.8, 0.8, 0.8, 0.8], [True, False, True, True]) == pytest.approx(5.0)
    assert calibration_error_hle([], []) == 0.0
    # A bin boundary inside a run of equal confidences: the sort keeps it deterministic.
    assert calibration_error_hle([1.0] * 250, [True] * 250) == 0.0
    with pytest.raises(ValueError, match="same length"):
        calibration_error_hle([0.5], [])


async def test_browsecomp_end_to_end_graded_with_calibration_in_the_report(tmp_path: Path) -> None:
    from thrifty.backends import ScriptedBackend
    from thrifty.budget import Limits
    from thrifty.evals.log import load_log
    from thrifty.evals.report import markdown, summarize
    from thrifty.evals.runner import Condition, run_eval

    canary = "BrowseComp canary"
    rows = [
        {
            "problem": encrypt(f"Which city is clue {i}?", canary),
            "answer": encrypt("Lima", canary),
            "problem_topic": "geo",
            "canary": canary,
        }
        for i in range(4)
    ]
    tasks = list(load(_csv(tmp_path / "bc.csv", rows)))
    agent = ScriptedBackend(["<answer>Lima, I am 90% sure</answer>"] * 2 + ["<answer>Quito</answer>"] * 2)
    verdicts = [
        "correct: yes\nconfidence: 90%",
        "Correct: YES\nconfidence: 90",
        "correct: no\nconfidence: 60%",
        "**correct:** no\nConfidence: 60%",
    ]
    grader = ScriptedBackend([f"extracted_final_answer: x\nreasoning: r\n{v}" for v in verdicts], model="judge")
    log = tmp_path / "log.jsonl"
    await run_eval(
        tasks,
        [Condition("react", "1", Limits(requests=2))],
        backends=[agent],
        tools=[],
        log_path=log,
        concurrency=1,
        grader=grader,
    )
    contents = load_log(log)
    assert [h.grader for h in contents.headers.values()] == ["judge"]
    assert sorted((s.correct, s.confidence) for s in contents.samples) == [(False, 0.6)] * 2 + [(True, 0.9)] * 2
    [row] = summarize(contents.samples)
    assert row.accuracy == 0.5
    # HLE form: one bin of 4: mean confidence 0.75 vs accuracy 0.5 -> 25.0; equal-width: 0.6 bin
    # (0.6 vs 0.0) and 0.9 bin (0.9 vs 1.0) -> 0.5 * 0.6 + 0.5 * 0.1 = 0.35.
    assert row.calibration_hle == pytest.approx(25.0) and row.calibration_ece == pytest.approx(0.35)
    assert "| 25.0 / 0.350 |" in markdown([row])
