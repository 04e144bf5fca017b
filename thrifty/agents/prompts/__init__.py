"""Named, versioned prompt templates loaded from package data and rendered strictly.

Each ``prompts/*.md`` file starts with a front matter (name, version, declared variables, source).
Rendering with a missing or undeclared variable raises :class:`~thrifty.errors.PromptError`, so a
renamed variable can never silently leave ``${x}`` in a prompt. ``${name}`` placeholders are used
because prompts contain JSON braces.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from importlib import resources

from thrifty.errors import PromptError

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    version: int
    variables: frozenset[str]
    source: str
    template: str

    @property
    def id(self) -> str:
        """``name@version``, recorded in traces and eval logs."""
        return f"{self.name}@{self.version}"

    def render(self, **values: str) -> str:
        given = set(values)
        if given != self.variables:
            missing = sorted(self.variables - given)
            extra = sorted(given - self.variables)
            raise PromptError(f"prompt {self.id}: missing variables {missing}, unexpected {extra}")
        try:
            return string.Template(self.template).substitute(values).strip()
        except (KeyError, ValueError) as exc:
            raise PromptError(f"prompt {self.id}: {exc}") from exc


def _parse(name: str, text: str) -> Prompt:
    m = _FRONT.match(text)
    if not m:
        raise PromptError(f"prompt {name}: missing front matter")
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    variables = frozenset(v.strip() for v in meta.get("variables", "[]").strip("[]").split(",") if v.strip())
    template = text[m.end() :]
    declared = {
        mm.group("named") or mm.group("braced")
        for mm in string.Template.pattern.finditer(template)
        if mm.group("named") or mm.group("braced")
    }
    if declared != variables:
        raise PromptError(f"prompt {name}: placeholders {sorted(declared)} != declared {sorted(variables)}")
    return Prompt(
        name=meta.get("name", name),
        version=int(meta.get("version", "1")),
        variables=variables,
        source=meta.get("source", ""),
        template=template,
    )


@functools.cache
def load_prompt(name: str) -> Prompt:
    """Load ``thrifty/agents/prompts/{name}.md`` (memoised: package data does not change while running)."""
    try:
        text = resources.files("thrifty.agents.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt named {name!r}") from None
    return _parse(name, text)


def render_prompt(name: str, /, **values: str) -> str:
    """The named prompt rendered: what the agent layer hands tools (:class:`~thrifty.tools.base.ToolContext`)."""
    return load_prompt(name).render(**values)
