"""Issue 19, deliverable 1: seeded task generators whose difficulty is a parameter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.test_particles import _apply
from thrifty.cli import main
from thrifty.evals.hop_tasks import generate_hops
from thrifty.evals.math_tasks import generate_math
from thrifty.evals.tasks import load_countries, people_index, read_tasks


@pytest.mark.parametrize(("operations", "distractors"), [(1, 0), (3, 2), (6, 4)])
def test_math_levels_fix_the_operations_and_add_distractors(operations: int, distractors: int) -> None:
    tasks = generate_math(30, seed=3, operations=operations, distractors=distractors)
    assert tasks == generate_math(30, seed=3, operations=operations, distractors=distractors)
    for t in tasks:
        who = re.match(r"(\w+) has", t.question).group(1)  # type: ignore[union-attr]
        sentences = re.split(r"(?<=\.) ", t.question)[1:-1]
        ops = [s for s in sentences if s.startswith((f"{who} ", "A friend gives"))]
        assert len(ops) == operations and len(sentences) == operations + distractors
        value = int(re.search(r"has (\d+)", t.question).group(1))  # type: ignore[union-attr]
        for sentence in ops:  # the distractors do not bear on the answer
            value = _apply(sentence, value)
        assert str(value) == t.answer
        assert t.meta["operations"] == operations and t.meta["distractors"] == distractors
    with pytest.raises(ValueError, match="operations"):
        generate_math(1, operations=9)


def test_hop_questions_are_as_deep_as_asked_and_right_by_construction() -> None:
    table = load_countries()
    people, by_adjective = people_index(sorted(table.values(), key=lambda c: c.name))
    country_of = {title: by_adjective.get(desc.split()[0]) for title, desc, _ in people}
    tasks = generate_hops(12, seed=1, hops=2)
    assert {t.type for t in tasks} == {"chain", "comparison"} and all(t.meta["hops"] == 2 for t in tasks)
    assert [t.question for t in tasks] == [t.question for t in generate_hops(12, seed=1, hops=2)]
    for t in tasks:
        names = re.findall(r"of which (.+?) \((?:a|an) ", t.question)
        countries = [country_of[n] for n in names]
        assert all(countries)
        if t.type == "chain":  # person → country → its most populous neighbour → capital
            [home] = countries
            top = max((table[n] for n in home.neighbours), key=lambda c: c.population)  # type: ignore[union-attr]
            assert t.answer == top.capital
        else:  # two people's countries; the larger population wins
            assert t.answer == max(countries, key=lambda c: c.population).name  # type: ignore[union-attr]
    one = generate_hops(4, seed=1, hops=1)
    assert all("most populous" not in t.question for t in one)
    assert any(t.question.count("most populous country sharing") == 2 for t in generate_hops(4, seed=1, hops=3))


def test_cli_generates_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "math.jsonl"
    assert (
        main(
            [
                "tasks",
                "generate",
                "--kind",
                "math",
                "--operations",
                "4",
                "--distractors",
                "1",
                "--n",
                "5",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert [t.meta["operations"] for t in read_tasks(out)] == [4] * 5
    assert main(["tasks", "generate", "--kind", "math", "--hops", "2", "--n", "5", "-o", str(out)]) == 2
    assert "--hops does not apply to --kind math" in capsys.readouterr().err
    assert main(["tasks", "generate", "--kind", "math", "--operations", "9", "--n", "5", "-o", str(out)]) == 2
