"""``@tool``: a typed async function becomes a tool, as pydantic-ai and the OpenAI Agents SDK do it.

The JSON schema the model sees and the validation of what it sends are both built by pydantic from
the signature, so they cannot drift apart::

    @tool
    async def lookup(city: Annotated[str, Field(description="A city name.")]) -> str:
        \"\"\"Population of a city.\"\"\"
        return POPULATIONS[city]

The docstring is the description, ``Annotated[..., Field(description=...)]`` describes an argument,
and a parameter typed :class:`ToolContext` receives the run's context (its charged model call). A
call costs one budget unit, or, with ``batch="query"``, one per item of that list argument (BATS:
one per query string), and a short budget cuts that list. Arguments that do not validate become an
error observation naming the argument; they never crash the run.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, get_type_hints, overload

from pydantic import AfterValidator, BaseModel, ValidationError, create_model

from thrifty.backends.base import ToolSpec
from thrifty.errors import ToolError
from thrifty.tools.base import Tool, ToolContext, ToolResult, validate_arguments

ToolFunction = Callable[..., Awaitable[str | ToolResult]]


def _stripped(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


Batch = Annotated[list[str], AfterValidator(_stripped)]
"""A batched argument: a list of strings, each stripped, blank ones dropped (they cost no unit)."""


class TypedTool:
    """A :class:`~thrifty.tools.base.Tool` built from a typed async function (see :func:`tool`)."""

    def __init__(
        self, fn: ToolFunction, *, name: str | None = None, description: str | None = None, batch: str | None = None
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.batch = batch
        self._context: str | None = None
        fields: dict[str, Any] = {}
        hints = get_type_hints(fn, include_extras=True)
        for param in inspect.signature(fn).parameters.values():
            hint = hints.get(param.name, Any)
            if hint is ToolContext:
                self._context = param.name
                continue
            fields[param.name] = (hint, ... if param.default is inspect.Parameter.empty else param.default)
        if batch is not None and batch not in fields:
            raise ValueError(f"tool {self.name!r} has no argument {batch!r} to batch on")
        self.arguments: type[BaseModel] = create_model(f"{self.name}_arguments", **fields)
        text = description if description is not None else inspect.getdoc(fn)
        if not text:
            raise ValueError(f"tool {self.name!r} needs a description (a docstring or description=...)")
        self.spec = ToolSpec(self.name, text, plain_schema(self.arguments.model_json_schema()))

    def parse(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The validated arguments by name; a :class:`ToolError` naming each bad argument otherwise."""
        try:
            model = self.arguments.model_validate(dict(arguments))
        except ValidationError as exc:
            raise ToolError(f"{self.name}: {describe(exc)}") from None
        values = {key: getattr(model, key) for key in type(model).model_fields}
        if self.batch is not None and not values[self.batch]:
            raise ToolError(f"{self.name}: argument {self.batch!r} is empty")
        return values

    def units(self, arguments: Mapping[str, Any]) -> int:
        """Validates first: a call with bad arguments is refused before any unit is charged."""
        values = self.parse(arguments)
        return 1 if self.batch is None else len(values[self.batch])

    def limit_units(self, arguments: Mapping[str, Any], units: int) -> Mapping[str, Any]:
        if self.batch is None:
            return arguments
        return {**arguments, self.batch: self.parse(arguments)[self.batch][:units]}

    async def run(self, arguments: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        values = self.parse(arguments)
        if self._context is not None:
            values[self._context] = ctx
        result = await self.fn(**values)
        return result if isinstance(result, ToolResult) else ToolResult(str(result))


def check_arguments(tool: Tool, arguments: Mapping[str, Any]) -> None:
    """Raise :class:`ToolError` for arguments the tool cannot take: a typed tool validates them with
    pydantic, any other tool (MCP, :class:`FunctionTool`) against its JSON schema's top level."""
    if isinstance(tool, TypedTool):
        tool.parse(arguments)
    else:
        validate_arguments(tool.spec, arguments)


@overload
def tool(fn: ToolFunction, /) -> TypedTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, batch: str | None = None
) -> Callable[[ToolFunction], TypedTool]: ...


def tool(
    fn: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    batch: str | None = None,
) -> TypedTool | Callable[[ToolFunction], TypedTool]:
    """Make a tool of a typed async function: ``@tool`` or ``@tool(name=..., batch="query")``."""
    if fn is not None:
        return TypedTool(fn, name=name, description=description, batch=batch)
    return lambda f: TypedTool(f, name=name, description=description, batch=batch)


def describe(error: ValidationError) -> str:
    """One line for the model: the missing arguments (worded as the hand-written check worded them),
    then each other failing argument and what was wrong with it."""
    missing, wrong = [], []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        if item["type"] == "missing":
            missing.append(where)
        else:
            wrong.append(f"argument {where!r}: {item['msg']}")
    head = [f"missing required argument(s): {', '.join(missing)}"] if missing else []
    return "; ".join(head + wrong)


_ORDER = {"type": 0, "items": 1, "description": 3}


def plain_schema(schema: Any) -> Any:
    """The schema as hand-written tool schemas read: no pydantic ``title``s, ``type`` first and
    ``description`` last (the prompt text of the built-in tools stays what it was)."""
    if isinstance(schema, list):
        return [plain_schema(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    keys = sorted((k for k in schema if k != "title"), key=lambda k: _ORDER.get(k, 2))
    out = {k: plain_schema(schema[k]) for k in keys if k not in ("properties", "$defs")}
    for k in ("properties", "$defs"):
        if k in schema:  # names chosen by the tool's author: kept in their order, each schema cleaned
            out[k] = {name: plain_schema(v) for name, v in schema[k].items()}
    return {k: out[k] for k in keys}
