from importlib import resources

import pytest

from thrifty.agents.prompts import load_prompt
from thrifty.errors import PromptError

NAMES = sorted(p.name[:-3] for p in resources.files("thrifty.agents.prompts").iterdir() if p.name.endswith(".md"))


@pytest.mark.parametrize("name", NAMES)
def test_every_prompt_loads_with_a_version_and_source(name: str) -> None:
    prompt = load_prompt(name)
    assert prompt.version >= 1
    assert prompt.source
    assert prompt.id == f"{prompt.name}@{prompt.version}"


def test_rendering_is_strict() -> None:
    prompt = load_prompt("final_answer")
    assert "Out of budget." in prompt.render(reason="Out of budget.", question="q?", fallback="")
    with pytest.raises(PromptError, match="missing"):
        prompt.render(reason="x")
    with pytest.raises(PromptError, match="unexpected"):
        prompt.render(reason="x", question="q", fallback="", extra="y")


def test_unknown_prompt() -> None:
    with pytest.raises(PromptError):
        load_prompt("no_such_prompt")


def test_tracker_prompt_keeps_the_papers_regime_guidelines() -> None:
    text = load_prompt("tracker_system").template
    for line in (
        "### HIGH Budget (>=70% remaining)",
        "### MEDIUM Budget (30%–70%)",
        "### LOW Budget (10%–30%)",
        "### CRITICAL (<10% remaining or 0 in one budget)",
    ):
        assert line in text
