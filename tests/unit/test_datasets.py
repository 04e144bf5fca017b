"""Dataset loaders (user-supplied files), BrowseComp decryption, the LLM grader's parsing, calibration."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from thrifty.agents.calls import ModelCaller
from thrifty.agents.events import ignore_events
from thrifty.backends import ScriptedBackend
from thrifty.budget import Ledger
from thrifty.errors import ConfigError
from thrifty.evals.datasets import decrypt, encrypt, load
from thrifty.evals.grader import calibration_error, grade, parse_grade
from thrifty.evals.runner import score


@pytest.mark.parametrize("text", ["", "Who wrote Hamlet?", "ünïcode ✓ " * 40])
def test_encryption_round_trip(text: str) -> None:
    assert decrypt(encrypt(text, "BrowseComp canary GUID 1234"), "BrowseComp canary GUID 1234") == text


def test_browsecomp_csv_is_decrypted_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "browse_comp_test_set.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["problem", "answer", "problem_topic", "canary"])
        writer.writeheader()
        writer.writerow(
            {
                "problem": encrypt("Which film?", "c1"),
                "answer": encrypt("Alien", "c1"),
                "problem_topic": "Art",
                "canary": "c1",
            }
        )
        writer.writerow(
            {
                "problem": encrypt("Which city?", "c2"),
                "answer": encrypt("Lima", "c2"),
                "problem_topic": "Geo",
                "canary": "c2",
            }
        )
    tasks = list(load(path))
    assert [(t.question, t.answer, t.meta["topic"]) for t in tasks] == [
        ("Which film?", "Alien", "Art"),
        ("Which city?", "Lima", "Geo"),
    ]


def test_gaia_folder_with_attachments_uses_gaia_scoring(tmp_path: Path) -> None:
    (tmp_path / "data.xlsx").write_bytes(b"x")
    rows = [
        {"task_id": "g1", "Question": "Sum?", "Level": 1, "Final answer": "1234", "file_name": "data.xlsx"},
        {"task_id": "g2", "Question": "Fruits?", "Level": 2, "Final answer": "apple, pear", "file_name": ""},
    ]
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = list(load(tmp_path))
    assert tasks[0].meta["attachments"] == [str(tmp_path / "data.xlsx")] and tasks[0].difficulty == "level1"
    assert score(tasks[0], "1,234") and not score(tasks[0], "1234.5")
    assert score(tasks[1], "Apple,Pear")
    with pytest.raises(ConfigError, match=r"metadata\.jsonl"):
        list(load(tmp_path / "missing", "gaia"))


def test_simpleqa_and_plain_jsonl(tmp_path: Path) -> None:
    sqa = tmp_path / "simple_qa.csv"
    sqa.write_text('metadata,problem,answer\n"{}",Who painted the Mona Lisa?,Leonardo da Vinci\n')
    assert [(t.question, t.answer) for t in load(sqa)] == [("Who painted the Mona Lisa?", "Leonardo da Vinci")]
    plain = tmp_path / "q.jsonl"
    plain.write_text(
        json.dumps({"id": "a", "question": "Capital of Peru?", "answer": "Lima", "aliases": ["Ciudad de Lima"]}) + "\n"
    )
    task = next(load(plain))
    assert (task.id, task.aliases) == ("a", ("Ciudad de Lima",))
    assert score(task, "It is Ciudad de Lima")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"q": 1}) + "\n")
    with pytest.raises(ConfigError, match="question"):
        list(load(bad))


def test_grade_parsing() -> None:
    g = parse_grade("extracted_final_answer: Lima\nreasoning: same\ncorrect: yes\nconfidence: 85%")
    assert (g.correct, g.extracted, g.confidence) == (True, "Lima", 0.85)
    g = parse_grade("extracted_final_answer: None\ncorrect: no")
    assert (g.correct, g.extracted, g.confidence) == (False, None, 1.0)


async def test_grader_call_is_charged() -> None:
    ledger = Ledger()
    backend = ScriptedBackend(["extracted_final_answer: Alien\ncorrect: yes\nconfidence: 60"])
    result = await grade(ModelCaller(backend, ledger, ignore_events), "Which film?", "Alien (60% sure)", "Alien")
    assert result.correct and result.confidence == 0.6
    assert "[correct_answer]: Alien" in backend.requests[0].messages[0].content
    assert ledger.used.requests == 1


def test_calibration_error() -> None:
    assert calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert calibration_error([0.9, 0.9], [False, False]) == pytest.approx(0.9)
    assert calibration_error([0.25, 0.75], [False, True]) == pytest.approx(0.25)
    assert calibration_error([], []) == 0.0
