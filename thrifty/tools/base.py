"""Tools: what the agent can do besides thinking, each charged through the ledger in *units*.

A tool declares how many budget units a call costs (BATS: one per query string or URL in a batched
call) and how to cut a batch down when the budget grants fewer units than asked. Raising
:class:`~thrifty.errors.ToolError` (or returning ``is_error=True``) tells the model; it never ends the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from thrifty.backends.base import ChatRequest, Completion, ToolSpec
from thrifty.errors import ToolError


@dataclass(frozen=True, slots=True)
class ToolResult:
    content: str
    is_error: bool = False


class RenderPrompt(Protocol):
    """Renders the named prompt (``thrifty/agents/prompts/{name}.md``) with its variables."""

    def __call__(self, name: str, /, **values: str) -> str: ...


def _no_prompts(name: str, /, **values: str) -> str:
    raise ToolError(f"no prompts to render {name!r} with: run this tool from an agent")


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a running tool may use. ``complete`` is a *charged* model call (e.g. browse summaries);
    ``render`` renders a prompt for it. Prompt text belongs to the agent layer, which hands the
    renderer down here, so tools hold no prompt text and import nothing from the agents."""

    complete: Callable[[ChatRequest], Awaitable[Completion]]
    render: RenderPrompt = _no_prompts


@runtime_checkable
class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    def units(self, arguments: Mapping[str, Any]) -> int:
        """Budget units this call consumes (at least 1)."""
        ...

    def limit_units(self, arguments: Mapping[str, Any], units: int) -> Mapping[str, Any]:
        """The same call cut down to ``units`` (only called with ``1 <= units < self.units(arguments)``)."""
        ...

    async def run(self, arguments: Mapping[str, Any], ctx: ToolContext) -> ToolResult: ...


def validate_arguments(spec: ToolSpec, arguments: Mapping[str, Any]) -> None:
    """Check required keys and top-level JSON types; raise ToolError with a message for the model."""
    schema = spec.parameters
    props: Mapping[str, Any] = schema.get("properties", {})
    missing = [k for k in schema.get("required", ()) if k not in arguments]
    if missing:
        raise ToolError(f"{spec.name}: missing required argument(s): {', '.join(missing)}")
    unknown = [k for k in arguments if k not in props]
    if unknown and schema.get("additionalProperties", True) is False:
        raise ToolError(f"{spec.name}: unknown argument(s): {', '.join(unknown)}")
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    for key, value in arguments.items():
        expected = props.get(key, {}).get("type")
        if isinstance(expected, str) and expected in checks and not checks[expected](value):
            raise ToolError(f"{spec.name}: argument {key!r} must be of type {expected}, got {type(value).__name__}")


class Toolset:
    """Tools by name, in a stable order."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        name = tool.spec.name
        if name in self._tools:
            raise ValueError(f"two tools are named {name!r}")
        self._tools[name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self, only: Sequence[str] | None = None) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for n, t in self._tools.items() if only is None or n in only)

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())


class OneUnitTool:
    """Base for tools that cost one budget unit per call (no batching to cut down)."""

    _spec: ToolSpec

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    def units(self, arguments: Mapping[str, Any]) -> int:
        return 1

    def limit_units(self, arguments: Mapping[str, Any], units: int) -> Mapping[str, Any]:
        return arguments


class FunctionTool(OneUnitTool):
    """A tool from an async function ``(arguments) -> str`` that costs one unit per call."""

    def __init__(
        self,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: Callable[[Mapping[str, Any]], Awaitable[str]],
    ) -> None:
        self._spec = ToolSpec(name=name, description=description, parameters=parameters)
        self._fn = fn

    async def run(self, arguments: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        return ToolResult(await self._fn(arguments))
