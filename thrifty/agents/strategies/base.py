"""Run-level strategies: one method, ``solve(question, ctx) -> RunResult``.

A strategy decides how a question is attacked (one trajectory, many, decomposed ...) and with
which prompts; the ledger in ``ctx`` bounds everything it does.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from thrifty.agents.controller import RunContext
from thrifty.agents.result import RunResult


@runtime_checkable
class Strategy(Protocol):
    @property
    def name(self) -> str: ...

    async def solve(self, question: str, ctx: RunContext) -> RunResult: ...
