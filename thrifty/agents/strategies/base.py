"""Run-level strategies: one method, ``solve(question, ctx) -> RunResult``.

A strategy decides how a question is attacked (one trajectory, many, decomposed ...) and with
which prompts; the ledger in ``ctx`` bounds everything it does. Its own settings are a typed
options object (:mod:`thrifty.strategy_options`), given when it is built; the loop's are ``ctx.config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

from thrifty.agents.controller import RunContext
from thrifty.agents.result import RunResult
from thrifty.strategy_options import StrategyOptions

Options = TypeVar("Options", bound=StrategyOptions)


@runtime_checkable
class Strategy(Protocol):
    @property
    def name(self) -> str: ...

    async def solve(self, question: str, ctx: RunContext) -> RunResult: ...


def options_of(kind: type[Options], options: Options | None, fields: Mapping[str, Any]) -> Options:
    """A strategy's options, given whole, as keywords (``BatsStrategy(max_attempts=2)``), or both
    (the keywords win); validated either way, so a wrong one is an error naming it."""
    if options is None:
        return kind.model_validate(dict(fields))
    if not isinstance(options, kind):
        raise TypeError(f"expected {kind.__name__} (or its fields as keywords), got {options!r}")
    return kind.model_validate({**dict(options), **fields}) if fields else options
