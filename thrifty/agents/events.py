"""Typed events emitted while a run proceeds. Displays, loggers and traces subscribe; none steer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from thrifty.backends.base import ChatRequest, Completion, ToolCall
from thrifty.budget import BudgetView, LedgerEntry, Limits

if TYPE_CHECKING:
    from thrifty.agents.result import RunResult


@dataclass(frozen=True, slots=True)
class RunStarted:
    question: str
    strategy: str
    model: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class StepStarted:
    step: int
    final: bool
    """True when this step must answer without tools (budget nearly or fully spent)."""


@dataclass(frozen=True, slots=True)
class ModelCalled:
    step: int
    purpose: str
    completion: Completion
    prompt_tokens_counted: int
    count_exact: bool
    max_tokens: int | None
    seconds: float
    request: ChatRequest | None = None
    """What was sent (traces record the prompt; record/replay keys on it)."""


@dataclass(frozen=True, slots=True)
class ToolCalled:
    step: int
    call: ToolCall
    output: str
    is_error: bool
    units_requested: int
    units_granted: int
    seconds: float


@dataclass(frozen=True, slots=True)
class BudgetCharged:
    entry: LedgerEntry
    view: BudgetView


@dataclass(frozen=True, slots=True)
class RunFinished:
    result: RunResult


Event = RunStarted | StepStarted | ModelCalled | ToolCalled | BudgetCharged | RunFinished
EventHandler = Callable[[Event], None]


class RunHandler(Protocol):
    """An event handler for one run that is told when the run is over: ``error`` is the exception
    that ended it (None after ``RunFinished``, or when it never started)."""

    def __call__(self, event: Event) -> None: ...

    def close(self, error: BaseException | None = None) -> None: ...


class Observer(Protocol):
    """Watches every run of an agent (``Agent(observers=[...])``): a trace folder
    (:class:`thrifty.traces.TraceFolder`), OpenTelemetry (:class:`thrifty.agents.telemetry.Telemetry`).
    Defined here, with the events, so the agent needs none of the layers that observe it."""

    def for_run(self, base_url: str | None) -> RunHandler:
        """The handler for one run; ``base_url``: the model server the run talks to, if any."""
        ...


def ignore_events(event: Event) -> None:
    """The default handler."""


def tee(*handlers: EventHandler) -> EventHandler:
    """One handler that passes every event to each of ``handlers`` in order."""

    def handle(event: Event) -> None:
        for handler in handlers:
            handler(event)

    return handle
