"""What identifies an eval run: the :class:`~thrifty.evals.log.RunHeader` built from its settings.

Everything that can change a sample's outcome goes in (model, endpoints, strategy and its
parameters, limits, loop settings, code version, task file), so a resume only skips samples that
the same settings produced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.budget import Limits
from thrifty.evals.log import RunHeader
from thrifty.tools.base import Tool

if TYPE_CHECKING:
    from thrifty.agents.controller import LoopConfig
    from thrifty.backends.base import Backend
    from thrifty.evals.sample import Condition


def limits_dict(limits: Limits) -> dict[str, Any]:
    return limits.to_dict()


def describe(value: Any, depth: int = 0) -> Any:
    """A JSON-able description of a setting: plain values as they are, dataclasses and objects by
    their public attributes (type name beyond a small depth), never a memory address."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [describe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, Limits):
        return limits_dict(value)
    attrs = (
        {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if dataclasses.is_dataclass(value)
        else {k: v for k, v in getattr(value, "__dict__", {}).items() if not k.startswith("_")}
    )
    if depth >= 3 or not attrs:
        return type(value).__name__
    return {"type": type(value).__name__, **{k: describe(v, depth + 1) for k, v in sorted(attrs.items())}}


def code_version() -> str:
    try:
        return metadata.version("thrifty")
    except metadata.PackageNotFoundError:
        return "unknown"


def hash_file(path: Path) -> str:
    """The task file's sha256 (for a GAIA folder, its ``metadata.jsonl``)."""
    target = path / "metadata.jsonl" if path.is_dir() else path
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


MOVED_TO_STRATEGY_OPTIONS = {"keep_tool_responses": None, "stop_when_tool_exhausted": "any"}
"""Two knobs that moved from ``LoopConfig`` to the strategies' options, at the values every run had
in ``loop_config`` before (a named strategy's own are implied by its name), so logs written
before keep their run ids and resume instead of starting over."""


def run_header(
    condition: Condition,
    backends: Sequence[Backend],
    config: LoopConfig,
    tasks_sha256: str,
    grader: Backend | None = None,
    tools: Sequence[Tool] = (),
    tasks_file: str | None = None,
) -> RunHeader:
    strategy = condition.strategy
    params = {"name": strategy} if isinstance(strategy, str) else describe(strategy)
    endpoints = sorted({str(_endpoint(b)) for b in backends})
    return RunHeader(
        model=backends[0].model,
        endpoints=endpoints,
        strategy=condition.name,
        strategy_params=params if isinstance(params, dict) else {"name": params},
        budget=condition.budget_label,
        limits=limits_dict(condition.limits),
        loop_config={**describe(config), **MOVED_TO_STRATEGY_OPTIONS},
        code_version=code_version(),
        tasks_sha256=tasks_sha256,
        grader=None if grader is None else grader.model,
        mcp=mcp_identity(tools),
        tasks_file=tasks_file,
        created=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )


def _endpoint(backend: Backend) -> object:
    """The server's stable name (a started server's, not its ephemeral port), else its URL."""
    return getattr(backend, "identity", None) or getattr(backend, "base_url", None) or type(backend).__name__


def mcp_identity(tools: Sequence[Tool]) -> list[dict[str, Any]] | None:
    """The MCP servers behind ``tools``: each target with its tools' names and per-call prices, so a
    rerun with another server (or another price) is a new run. None when no tool is an MCP tool."""
    from thrifty.tools.mcp import MCPTool

    servers: dict[str, dict[str, Any]] = {}
    for tool in tools:
        if isinstance(tool, MCPTool):
            entry = servers.setdefault(tool.server.target, {"server": tool.server.target, "tools": {}})
            entry["tools"][tool.spec.name] = tool.price_usd
    return [servers[k] for k in sorted(servers)] or None
