"""BATS: Budget-Aware Test-time Scaling (Liu et al. 2025, arXiv 2511.17006 §4).

Each attempt is a Budget Tracker trajectory with the planning module (C.2) in its system prompt.
When it proposes an answer, the verifier (C.3) returns SUCCESS / CONTINUE / PIVOT with a summary:
CONTINUE digs deeper on the same lead, PIVOT abandons it; either way the summary *replaces* the raw
trajectory and a new attempt starts with the remaining budget. Main mode keeps attempting until the
budget is spent, then an LLM judge (C.4 best-of-N) picks among the verified answers; early-stopping
mode returns the first SUCCESS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import RunContext, run_trajectory
from thrifty.agents.prompts import load_prompt
from thrifty.agents.prompts.budget import render_budget_block
from thrifty.agents.protocol import json_objects
from thrifty.agents.result import RunResult, StopReason, TrajectoryStep
from thrifty.agents.strategies.base import options_of
from thrifty.agents.strategies.judging import Candidate, is_none, judge, normalize, render_trajectory
from thrifty.agents.strategies.single import tracker_system_prompt
from thrifty.backends.base import ChatRequest, Message
from thrifty.budget import BudgetExceeded, Regime
from thrifty.errors import BackendError
from thrifty.strategy_options import BatsOptions

__all__ = ["BatsOptions", "BatsStrategy", "Verdict", "budget_spent", "parse_verdict"]

Decision = Literal["SUCCESS", "CONTINUE", "PIVOT"]
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verification": {"type": "string", "maxLength": 800},
        "decision": {"enum": ["SUCCESS", "CONTINUE", "PIVOT"]},
        "justification": {"type": "string", "maxLength": 400},
        "trajectory_summary": {"type": "string", "maxLength": 800},
        "details": {"type": "object"},
    },
    "required": ["verification", "decision", "justification", "trajectory_summary", "details"],
}


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    justification: str
    summary: str
    details: str
    parsed: bool = True


def parse_verdict(text: str, regime: Regime) -> Verdict:
    """The verifier's JSON; unreadable output falls back to CONTINUE, or PIVOT when the budget is low."""
    for obj, _ in json_objects(text):
        if isinstance(obj, dict) and isinstance(obj.get("decision"), str):
            decision = obj["decision"].strip().upper()
            if decision not in ("SUCCESS", "CONTINUE", "PIVOT"):
                continue
            details = obj.get("details", "")
            return Verdict(
                decision=decision,
                justification=str(obj.get("justification", "")),
                summary=str(obj.get("trajectory_summary", "")),
                details=details if isinstance(details, str) else json.dumps(details, ensure_ascii=False),
                parsed=True,
            )
    fallback: Decision = "PIVOT" if regime in (Regime.LOW, Regime.CRITICAL) else "CONTINUE"
    return Verdict(fallback, "the verifier's output could not be parsed", "", "", parsed=False)


UNLIMITED_ATTEMPTS = 6
"""With no limit in force at all the paper's rule (attempt until a budget is spent) never ends; then
thrifty stops after this many attempts."""


def _only_tools_limited(ctx: RunContext) -> bool:
    """No request, token, dollar or time limit: an attempt that answers without tools then spends
    nothing any limit counts, so the paper's rule alone would attempt for ever; thrifty stops after
    ``UNLIMITED_ATTEMPTS`` such attempts in a row."""
    limits = ctx.ledger.limits
    bounded = (limits.requests, limits.input_tokens, limits.output_tokens, limits.total_tokens, limits.usd)
    return all(v is None for v in (*bounded, limits.seconds))


def budget_spent(ctx: RunContext, attempt: RunResult) -> bool:
    """BATS's termination rule: *any* budget (a tool's units, tokens, dollars, time) is exhausted."""
    if attempt.stop_reason == "budget_exhausted" or attempt.exhausted is not None or ctx.ledger.exceeded():
        return True
    left = ctx.ledger.view().fraction_remaining()
    return left is not None and left <= 0


@dataclass
class _Attempts:
    """What the attempts so far produced: the judge's pool, the proposals, steps and notes."""

    verified: list[Candidate] = field(default_factory=list)
    unverified: list[Candidate] = field(default_factory=list)
    proposed: list[str] = field(default_factory=list)
    steps: list[TrajectoryStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    preamble: str | None = None


class BatsStrategy:
    """BATS as published by default: attempts go on until any budget is exhausted, an attempt that
    answers None is followed by a new one, and the verifier and judge see whole trajectories.

    Its options are :class:`BatsOptions` (``max_attempts`` and ``trajectory_chars`` are thrifty's, not
    the paper's). An attempt that neither answers nor
    spends a tool unit ends the run (a model that does nothing would otherwise loop to the budget).
    """

    def __init__(self, options: BatsOptions | None = None, /, **fields: Any) -> None:
        self.options = options_of(BatsOptions, options, fields)
        self.name = "bats-early" if self.options.early_stop else "bats"

    async def verify(self, question: str, attempt: RunResult, ctx: RunContext, caller: ModelCaller) -> Verdict:
        view = ctx.ledger.view()
        prompt = load_prompt("bats_verifier").render(
            question=question,
            trajectory=render_trajectory(attempt.steps, chars=self.options.trajectory_chars),
            answer=attempt.answer or "None",
            budget=render_budget_block(view, show_regime=True),
        )
        structured = ctx.backend.tool_protocol == "json"
        request = ChatRequest(
            messages=(Message("user", prompt),),
            max_tokens=700,
            temperature=0.0,
            response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA}}
            if structured
            else None,
        )
        completion = await caller(request, step=len(attempt.steps), purpose="verify")
        return parse_verdict(completion.text, Regime.of(ctx.ledger.view()))

    def _cap(self, ctx: RunContext) -> int | None:
        if self.options.max_attempts is not None:
            return self.options.max_attempts
        return UNLIMITED_ATTEMPTS if ctx.ledger.limits.is_unlimited else None

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        system = tracker_system_prompt(ctx, extra=load_prompt("bats_planning").render())
        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        state = _Attempts()
        last: RunResult | None = None
        cap, number, idle = self._cap(ctx), 0, 0
        while (cap is None or number < cap) and idle < UNLIMITED_ATTEMPTS:
            number += 1
            units = ctx.ledger.used.tool_calls
            last = await run_trajectory(
                question,
                ctx,
                system_prompt=system,
                strategy=self.name,
                budget_block=True,
                preamble=state.preamble,
                options=self.options,
            )
            state.steps.extend(last.steps)
            idle = idle + 1 if ctx.ledger.used.tool_calls == units and _only_tools_limited(ctx) else 0
            if not await self._after(question, ctx, caller, state, last, number, units):
                break
        final = await self._select(question, state.verified or state.unverified, caller, state.notes)
        stop: StopReason = last.stop_reason if last is not None else "budget_exhausted"
        if (state.verified and self.options.early_stop) or (final is not None and stop == "budget_exhausted"):
            stop = "answered"
        return ctx.result(
            question,
            self.name,
            stop,
            final,
            exhausted=last.exhausted if last else None,
            steps=state.steps,
            messages=last.messages if last else (),
            candidates=dict.fromkeys(state.proposed),
            notes=state.notes,
        )

    async def _after(
        self,
        question: str,
        ctx: RunContext,
        caller: ModelCaller,
        state: _Attempts,
        last: RunResult,
        number: int,
        units_before: int,
    ) -> bool:
        """Verify one attempt's answer and record it; whether another attempt follows."""
        if last.stop_reason in ("error", "cancelled"):
            return False
        if is_none(last.answer):
            state.notes.append(f"attempt {number}: no answer ({last.stop_reason})")
            idle = ctx.ledger.used.tool_calls == units_before
            return not idle and not budget_spent(ctx, last)
        answer = last.answer or ""
        state.proposed.append(answer)
        if budget_spent(ctx, last):  # nothing left to verify with, and BATS ends here
            state.unverified.append(
                Candidate(answer, render_trajectory(last.steps, chars=self.options.trajectory_chars))
            )
            return False
        try:
            verdict = await self.verify(question, last, ctx, caller)
        except (BudgetExceeded, BackendError) as exc:
            state.unverified.append(Candidate(answer, "not verified: " + str(exc)))
            state.notes.append(f"attempt {number}: answer {answer!r}, verification unaffordable")
            return False
        state.notes.append(f"attempt {number}: answer {answer!r} → {verdict.decision}: {verdict.justification[:200]}")
        pool = state.verified if verdict.decision == "SUCCESS" else state.unverified
        pool.append(Candidate(answer, verdict.summary))
        if verdict.decision == "SUCCESS" and self.options.early_stop:
            return False
        # CONTINUE and PIVOT (and SUCCESS in main mode) start afresh from the summary, not the trajectory.
        state.preamble = load_prompt("bats_resume").render(
            decision=verdict.decision, summary=verdict.summary or "(none)", details=verdict.details or "(none)"
        )
        return True

    async def _select(self, question: str, pool: list[Candidate], caller: ModelCaller, notes: list[str]) -> str | None:
        distinct: dict[str, Candidate] = {}
        for c in pool:
            distinct.setdefault(normalize(c.answer), c)
        options = list(distinct.values())
        if not options:
            return None
        choice = await judge(caller, question, options, kind="best_of_n")
        if len(options) > 1:
            notes.append(f"judge chose option {choice} of {len(options)}")
        return options[choice if choice is not None else -1].answer
