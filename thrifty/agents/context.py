"""What one run of the controller loop is given (:class:`RunContext`, :class:`LoopConfig`) and keeps
(:class:`LoopState`). Separate from the loop so the tool dispatch and the rails can share them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from thrifty.agents.events import EventHandler
from thrifty.agents.rails import Rails
from thrifty.agents.result import RunResult, StopReason, TrajectoryStep
from thrifty.agents.thinking import ThinkingMode
from thrifty.backends.base import Backend, Message
from thrifty.budget import BudgetView, Ledger
from thrifty.defaults import STEP_MAX_TOKENS
from thrifty.strategy_options import TrajectoryOptions
from thrifty.tools.base import Toolset


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Knobs of the loop itself, whatever the strategy (budgets live in :class:`~thrifty.budget.Limits`;
    a strategy's own options, such as how many tool responses BATS keeps, in its options type in
    :mod:`thrifty.strategy_options`)."""

    step_max_tokens: int = STEP_MAX_TOKENS
    final_max_tokens: int = 384
    temperature: float | None = None
    seed: int | None = None
    tool_timeout_seconds: float = 120.0
    max_steps: int = 100
    """A hard bound on model turns, whatever the budget says (an unlimited budget must still end)."""
    max_idle_steps: int = 3
    """Steps in a row that ran no tool and gave no answer; then the model must answer."""
    repeat_temperature: float | None = 0.7
    """After the model repeats a call, sample the next step at least this hot to break the loop (None: never)."""
    max_repeats: int = 3
    """The same reply this many times in a row means the model is stuck: it must answer now."""
    max_format_misses: int = 1
    """Prose replies with no tool call and no <answer> get this many nudges before the prose is taken as the answer."""
    expected_observation_tokens: int = 400
    """Prompt growth assumed per tool round when deciding whether one more step is affordable."""
    thinking: Literal["none", "low", "medium", "high", "auto"] | None = None
    """Thinking dial: None leaves the model's default; a mode is stepped down as the budget regime
    falls; "auto" picks the mode per question from a cheap difficulty probe."""
    abstain: bool = False
    """Allow "None" as an answer (BrowseComp-style evals that reward abstaining). Otherwise an
    abstention with budget left is followed by one call for the best answer from the evidence."""
    rails: Rails | None = None
    """The small-model rails; None: those the backend's model profile selects (:func:`rails_for`)."""


StepGate = Callable[[BudgetView], Awaitable[bool]]


@dataclass
class RunContext:
    """Everything one run needs; nothing lives on the agent between runs."""

    backend: Backend
    tools: Toolset
    ledger: Ledger
    emit: EventHandler
    config: LoopConfig = field(default_factory=LoopConfig)
    before_step: StepGate | None = None
    """Awaited before each agent step with the budget so far; False ends the run ("cancelled").
    It may also raise to pause the run (the LangGraph adapter's human-approval interrupt)."""

    def result(
        self,
        question: str,
        strategy: str,
        stop_reason: StopReason,
        answer: str | None,
        *,
        exhausted: str | None = None,
        error: str | None = None,
        detail: str | None = None,
        steps: Iterable[TrajectoryStep] = (),
        messages: Iterable[Message] = (),
        candidates: Iterable[str] = (),
        notes: Iterable[str] = (),
        pass_at_n: bool = False,
    ) -> RunResult:
        """The one way a strategy ends a run: what it found, with what this run's ledger spent
        (usage, seconds, entries) and the backend's model filled in here, never by hand."""
        return RunResult(
            question=question,
            answer=answer,
            stop_reason=stop_reason,
            usage=self.ledger.used,
            strategy=strategy,
            model=self.backend.model,
            exhausted=exhausted,
            error=error,
            detail=detail,
            seconds=self.ledger.elapsed(),
            steps=tuple(steps),
            messages=tuple(messages),
            ledger=tuple(self.ledger.entries),
            candidates=tuple(candidates),
            notes=tuple(notes),
            pass_at_n=pass_at_n,
        )


@dataclass
class LoopState:
    """The mutable state of one trajectory (the loop's own; strategies never see it)."""

    messages: list[Message]
    question: str = ""
    options: TrajectoryOptions = field(default_factory=TrajectoryOptions)
    """The strategy's say in how this trajectory uses the loop (context kept, when a spent tool ends it)."""
    steps: list[TrajectoryStep] = field(default_factory=list)
    best: str | None = None
    misses: int = 0
    tool_message_indices: list[int] = field(default_factory=list)
    out_tokens: list[int] = field(default_factory=list)
    idle: int = 0
    thinking: ThinkingMode | None = None
    repeated: bool = False
    """The last step repeated an earlier call."""
    withheld: frozenset[str] = frozenset()
    """Tools not offered in the next step (their last call was a refused repeat)."""
    reformulations: int = 0
    """New queries written by the reformulation rail so far."""
    echoes: int = 0
    """Answers sent back for only repeating a name the question states."""
    calls_made: dict[str, int] = field(default_factory=dict)
    """Canonical JSON of each executed call → the step that made it (repeats are refused, not re-paid)."""


AnswerHook = Callable[[str], Awaitable[str | None]]
"""Called with each proposed answer; returns a message that sends the agent back to work (sequential
scaling's "Wait, you still have budget…"), or None to accept the answer."""
