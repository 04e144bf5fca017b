"""Decomposition's split check on replies that rephrase the question word: a rest whose ``#1`` stands
for a name is refused, even when the model also changed "what" to "which" around it."""

import json

import pytest

from thrifty.agents.rails import Decompose


@pytest.mark.parametrize(
    ("question", "first", "then", "expected"),
    [
        # a name and a reworded question word: not a description, no split
        (
            "On what date was Moby-Dick first published?",
            "What year was Moby-Dick first published?",
            "On which date was #1 first published?",
            None,
        ),
        ("What year did the Titanic sink?", "When did the Titanic sink?", "Which year did #1 sink?", None),
        # a description with a reworded question word is still split
        (
            "In what year did the author of Moby-Dick die?",
            "Who wrote Moby-Dick?",
            "In which year did #1 die?",
            ("Who wrote Moby-Dick?", "In which year did #1 die?"),
        ),
    ],
)
def test_a_reworded_question_word_is_not_a_description(
    question: str, first: str, then: str, expected: tuple[str, str] | None
) -> None:
    assert Decompose.parse(json.dumps({"first": first, "then": then}), question) == expected
