"""The public entry point: an :class:`Agent` couples a backend, tools, a strategy and a budget.

The agent keeps no run state: every ``run`` gets a fresh ledger, so one agent can serve many
questions concurrently (batch evaluation). Async core, thin sync edge (``run_sync``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from typing import Literal

from thrifty.agents.controller import LoopConfig, RunContext, StepGate
from thrifty.agents.events import Event, EventHandler, Observer, RunFinished, RunStarted, ignore_events, tee
from thrifty.agents.result import RunResult
from thrifty.agents.strategies import Strategy, get_strategy
from thrifty.agents.telemetry import Telemetry, telemetry_from_env
from thrifty.backends.base import Backend
from thrifty.backends.embedded import EMBEDDED_MODELS
from thrifty.backends.session import session
from thrifty.budget import Clock, Ledger, Limits, PriceTable, UnknownPrice, parse_budget_spec
from thrifty.errors import ConfigError
from thrifty.tools.base import Tool, Toolset


class Agent:
    def __init__(
        self,
        backend: Backend,
        *,
        tools: Iterable[Tool] | Toolset = (),
        strategy: str | Strategy = "tracker",
        limits: Limits | str | None = None,
        prices: PriceTable | None = None,
        config: LoopConfig | None = None,
        clock: Clock | None = None,
        observers: Sequence[Observer] = (),
        telemetry: Telemetry | Literal["env"] | None = "env",
    ) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(_not_a_backend(backend))
        self.backend = backend
        self.tools = tools if isinstance(tools, Toolset) else Toolset(tools)
        self.strategy = get_strategy(strategy) if isinstance(strategy, str) else strategy
        self.limits = self._as_limits(limits)
        self.prices = with_declared_prices(prices, self.tools)
        """Tools that declare a ``price_usd`` per unit (MCP tools) add it; an entry of ``prices`` wins."""
        self.config = config or LoopConfig()
        self.clock = clock
        self.observers = tuple(observers)
        """Each gets a handler for every run: ``TraceFolder(path)`` writes each run's trace to a new file."""
        self.telemetry = telemetry_from_env() if isinstance(telemetry, str) else telemetry
        """OpenTelemetry spans per run: from ``THRIFTY_OTEL`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` by
        default (off when neither is set), a :class:`~thrifty.agents.telemetry.Telemetry`, or None (off)."""

    def new_ledger(self, limits: Limits | str | None = None, *, label: str = "run") -> Ledger:
        chosen = self._as_limits(limits) if limits is not None else self.limits
        prices = self.prices or PriceTable()
        if self.backend.model in EMBEDDED_MODELS:  # thrifty's own local models cost nothing per token
            prices = prices.with_free(self.backend.model)
        return Ledger(chosen, prices=prices, clock=self.clock, label=label)

    async def run(
        self,
        question: str,
        *,
        limits: Limits | str | None = None,
        ledger: Ledger | None = None,
        on_event: EventHandler | None = None,
        before_step: StepGate | None = None,
    ) -> RunResult:
        """Answer ``question`` within the budget. Exhaustion is a result, not an exception."""
        base_url = getattr(self.backend, "base_url", None)
        observers = (*self.observers, self.telemetry) if self.telemetry is not None else self.observers
        handlers = [observer.for_run(base_url) for observer in observers]
        emit = tee(on_event or ignore_events, *handlers)
        ledger = ledger or self.new_ledger(limits)
        if ledger.remaining("usd") is not None:  # a dollar limit needs a price, checked before any call
            try:
                ledger.prices.require(self.backend.model)
            except UnknownPrice as exc:
                raise ConfigError("usd", str(exc)) from None
        ctx = RunContext(self.backend, self.tools, ledger, emit, self.config, before_step)
        error: BaseException | None = None
        try:
            emit(RunStarted(question, self.strategy.name, self.backend.model, ledger.limits))
            with session():  # every request of this run carries one session id (sticky routing)
                result = truthful(await self.strategy.solve(question, ctx))
            result = replace(result, limits=ledger.limits, overrun=ledger.overrun_record())
            emit(RunFinished(result))
        except BaseException as exc:
            error = exc
            raise
        finally:
            for handler in handlers:
                handler.close(error)
        return result

    def run_sync(self, question: str, *, limits: Limits | str | None = None) -> RunResult:
        return asyncio.run(self.run(question, limits=limits))

    async def stream(self, question: str, *, limits: Limits | str | None = None) -> AsyncIterator[Event]:
        """Yield events as the run proceeds; the last one is :class:`RunFinished`."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        task = asyncio.create_task(self.run(question, limits=limits, on_event=queue.put_nowait))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            await task  # re-raise a failure of the run itself
        finally:
            if not task.done():
                task.cancel()

    def _as_limits(self, limits: Limits | str | None) -> Limits:
        """A spec string is checked against the tools this agent offers (a typo is an error, not a tool)."""
        if limits is None:
            return Limits()
        return parse_budget_spec(limits, tools=self.tools.names) if isinstance(limits, str) else limits


def with_declared_prices(prices: PriceTable | None, tools: Toolset) -> PriceTable | None:
    declared = {t.spec.name: p for t in tools if isinstance(p := getattr(t, "price_usd", None), int | float)}
    if not declared:
        return prices
    table = prices or PriceTable()
    return replace(table, tools={**declared, **table.tools})


def truthful(result: RunResult) -> RunResult:
    """The result as the user should read it: an answer that was given is ``answered`` (``exhausted``
    still names the limit that called for it, and ``detail`` says so)."""
    stop = result.stop_reason
    detail = result.detail
    if result.answer is not None and stop in ("budget_exhausted", "stalled"):
        why = f"{result.exhausted} ran low" if result.exhausted else "the model stopped making progress"
        detail = f"answered in a final call: {detail or why}"
        stop = "answered"
    return replace(result, stop_reason=stop, detail=detail)


def _not_a_backend(value: object) -> str:
    name = type(value).__name__
    if hasattr(value, "__aenter__"):
        return (
            f"Agent needs a backend, got {name}: open_backend() is an async context manager "
            "(`async with open_backend() as backend:`); in sync code use `with open_backend_sync() as backend:`"
        )
    return f"Agent needs a backend (complete, count_tokens, model, profile), got {name}"
