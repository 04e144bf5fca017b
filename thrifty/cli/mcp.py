"""``--mcp SERVER`` for ``ask``, ``chat`` and ``eval``: an MCP server's tools beside the built-in ones.

``SERVER`` is a command line (``--mcp "npx -y @modelcontextprotocol/server-filesystem /tmp"``, run
over stdio) or an ``http(s)://`` URL (streamable HTTP); repeat the flag for several servers. The
servers' tools are known only once they are connected, so a ``--budget`` key that is neither a
resource nor a built-in tool is accepted provisionally and checked against them right after
connecting, before any model server starts. Prices per call come from the settings' ``mcp_prices``
(``"*"`` for every MCP tool). A stdio server's stderr goes to a log file, not over the live view.
The flag itself is defined with the others in :mod:`thrifty.cli.parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TextIO, TypeVar

from thrifty.budget import parse_budget_spec
from thrifty.budget.limits import RESOURCES, BudgetSpecError
from thrifty.errors import ConfigError
from thrifty.tools.base import Tool


def pending_keys(args: argparse.Namespace, known: Sequence[str], *specs: str | None) -> list[str]:
    """Budget keys of ``specs`` that may name an MCP tool (with ``--mcp`` given, keys naming neither a
    resource nor one of the ``known`` tools): accepted now, checked once the servers are connected."""
    if not getattr(args, "mcp", None):
        return []
    keys: list[str] = []
    for spec in specs:
        try:
            named = parse_budget_spec(spec or "").tools
        except BudgetSpecError:  # reported by the real check, with its flag
            continue
        keys.extend(k for k in named if k not in known and k not in keys)
    return keys


def log_path() -> Path:
    from thrifty.paths import cache_dir

    return cache_dir() / "mcp-servers.log"


@contextlib.asynccontextmanager
async def offer_mcp_tools(
    args: argparse.Namespace, tools: list[Tool], *specs: str | None, flag: str = "--budget"
) -> AsyncIterator[None]:
    """Connect every ``--mcp`` server while the block runs and add its tools to ``tools`` in place
    (the list the command hands to the agent or the chat session); a key of the budget ``specs`` that
    names no offered tool is an error against ``flag``. The servers are closed and the list restored
    on exit."""
    if not args.mcp:
        yield
        return
    pending = pending_keys(args, [t.spec.name for t in tools], *specs)
    from thrifty.tools.mcp import MCPServer, mcp_tools

    prices = dict(getattr(args, "mcp_prices", None) or {})
    with _errlog() as errlog:
        servers = [MCPServer(s, price_usd=prices.get("*"), prices=prices, errlog=errlog) for s in args.mcp]
        try:
            async with mcp_tools(*servers) as extra:
                _check(tools, extra, pending, flag)
                size = len(tools)
                tools.extend(extra)
                try:
                    yield
                finally:
                    del tools[size:]
        except ConfigError as exc:
            if exc.field == "mcp":
                raise ConfigError("--mcp", f"{str(exc).removeprefix('mcp: ')} (server output: {log_path()})") from None
            raise


T = TypeVar("T")


@contextlib.asynccontextmanager
async def with_mcp(mcp: AbstractAsyncContextManager[None], opened: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """``opened`` (the model backend) entered after the MCP servers, both owned by one task of their own.

    For ``chat``, whose session enters and leaves its backend in two different ``Runner.run`` calls:
    the SDK's task groups must be left by the task that entered them, so a task holds them open until
    the block ends (a turn cancelled with Ctrl-C never touches it)."""
    ready: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def own() -> None:
        try:
            async with mcp, opened as value:
                ready.set_result(value)
                await done.wait()
        except BaseException as exc:
            if ready.done():
                raise
            if isinstance(exc, asyncio.CancelledError):
                ready.cancel()
            else:
                ready.set_exception(exc)

    owner = asyncio.create_task(own())
    try:
        yield await ready
    finally:
        done.set()
        if not ready.done():
            owner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await owner


@contextlib.contextmanager
def _errlog() -> Iterator[TextIO]:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        yield log


def _check(builtin: Sequence[Tool], extra: Sequence[Tool], pending: Sequence[str], flag: str) -> None:
    names = [t.spec.name for t in builtin]
    for tool in extra:
        if tool.spec.name in names:
            raise ConfigError("--mcp", f"an MCP tool is named {tool.spec.name!r} like a built-in tool; add --no-tools")
    offered = sorted([*names, *(t.spec.name for t in extra)])
    for key in pending:
        if key not in offered:
            close = difflib.get_close_matches(key, [*RESOURCES, *offered], n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                flag,
                f"{key}: unknown key; {hint}valid keys: {', '.join(RESOURCES)} and the tools offered: "
                f"{', '.join(offered)}",
            )
