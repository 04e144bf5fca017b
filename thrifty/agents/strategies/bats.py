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
from dataclasses import dataclass, replace
from typing import Any, Literal

from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import RunContext, run_trajectory
from thrifty.agents.prompts import load_prompt
from thrifty.agents.protocol import json_objects
from thrifty.agents.result import RunResult, StopReason, TrajectoryStep
from thrifty.agents.strategies.judging import Candidate, is_none, judge, normalize
from thrifty.agents.strategies.single import tracker_system_prompt
from thrifty.backends.base import ChatRequest, Message
from thrifty.budget import BudgetExceeded, Regime, render_budget_block
from thrifty.errors import BackendError

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


def render_trajectory(steps: tuple[TrajectoryStep, ...], *, chars: int = 400) -> str:
    lines = []
    for s in steps:
        lines.append(f"Step {s.index + 1}: {' '.join(s.text.split())[:chars]}")
        for c in s.tool_calls:
            out = " ".join(str(c.get("output", "")).split())[:chars]
            lines.append(f"  {c['name']}({json.dumps(c['arguments'], ensure_ascii=False)[:200]}) -> {out}")
    return "\n".join(lines) or "(no steps)"


class BatsStrategy:
    def __init__(self, *, early_stop: bool = False, max_attempts: int = 6, keep_tool_responses: int | None = 1) -> None:
        self.early_stop = early_stop
        self.max_attempts = max_attempts
        self.keep_tool_responses = keep_tool_responses
        """BATS keeps only the latest tool response in context (Table 6); None keeps all."""
        self.name = "bats-early" if early_stop else "bats"

    async def verify(self, question: str, attempt: RunResult, ctx: RunContext, caller: ModelCaller) -> Verdict:
        view = ctx.ledger.view()
        prompt = load_prompt("bats_verifier").render(
            question=question,
            trajectory=render_trajectory(attempt.steps),
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

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        ctx = replace(ctx, config=replace(ctx.config, keep_tool_responses=self.keep_tool_responses))
        system = tracker_system_prompt(ctx, extra=load_prompt("bats_planning").render())
        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        verified: list[Candidate] = []
        unverified: list[Candidate] = []
        proposed: list[str] = []
        steps: list[TrajectoryStep] = []
        notes: list[str] = []
        preamble: str | None = None
        last: RunResult | None = None
        for attempt in range(self.max_attempts):
            last = await run_trajectory(
                question, ctx, system_prompt=system, strategy=self.name, budget_block=True, preamble=preamble
            )
            steps.extend(last.steps)
            if is_none(last.answer):
                notes.append(f"attempt {attempt + 1}: no answer ({last.stop_reason})")
                break
            answer = last.answer or ""
            proposed.append(answer)
            if last.stop_reason in ("budget_exhausted", "error"):  # nothing left to verify with
                unverified.append(Candidate(answer, render_trajectory(last.steps)[-600:]))
                break
            try:
                verdict = await self.verify(question, last, ctx, caller)
            except (BudgetExceeded, BackendError) as exc:
                unverified.append(Candidate(answer, "not verified: " + str(exc)))
                notes.append(f"attempt {attempt + 1}: answer {answer!r}, verification unaffordable")
                break
            notes.append(
                f"attempt {attempt + 1}: answer {answer!r} → {verdict.decision}: {verdict.justification[:200]}"
            )
            if verdict.decision == "SUCCESS":
                verified.append(Candidate(answer, verdict.summary))
                if self.early_stop:
                    break
            else:
                unverified.append(Candidate(answer, verdict.summary))
            # CONTINUE and PIVOT (and SUCCESS in main mode) start afresh from the summary, not the trajectory.
            preamble = load_prompt("bats_resume").render(
                decision=verdict.decision, summary=verdict.summary or "(none)", details=verdict.details or "(none)"
            )
        final = await self._select(question, verified or unverified, caller, notes)
        stop: StopReason = last.stop_reason if last is not None else "budget_exhausted"
        if verified and self.early_stop:
            stop = "answered"
        return RunResult(
            question=question,
            answer=final,
            stop_reason=stop,
            usage=ctx.ledger.used,
            strategy=self.name,
            model=ctx.backend.model,
            exhausted=last.exhausted if last else None,
            seconds=ctx.ledger.elapsed(),
            steps=tuple(steps),
            messages=last.messages if last else (),
            ledger=tuple(ctx.ledger.entries),
            candidates=tuple(dict.fromkeys(proposed)),
            notes=tuple(notes),
        )

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
