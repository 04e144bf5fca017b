"""Plan-and-Budget (Lin et al. 2025, arXiv 2505.16122) as an agent strategy.

1. Plan: decompose the question into 2-5 sub-questions (the official ``break_down`` prompt).
2. Estimate: a level (1-5) for the problem and a credit share per sub-question (JSON).
3. Budget: split the budget B over sub-questions with a decaying schedule × credits
   (:mod:`~thrifty.agents.strategies.schedules`).
4. Solve, as published: **one** trajectory whose prompt lists the sub-questions as a soft scaffold,
   each with "Please only think a little, and directly solve it using up to N words", and B from
   the official level map (200-600 words by the estimated level). The run's own limits bound it.

``hard_caps=True`` is thrifty's variant, not the paper's: each sub-question is solved in its own
trajectory, in a *child ledger* capped at its share of the run's token budget, then a synthesis
call answers from the sub-answers. With a decaying schedule the last sub-questions can get less
than one prompt's worth of tokens there and come back "unknown".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import (
    RunContext,
    final_answer_text,
    protocol_block,
    run_trajectory,
    tools_listing,
)
from thrifty.agents.prompts import load_prompt
from thrifty.agents.protocol import json_objects
from thrifty.agents.result import RunResult, StopReason, TrajectoryStep
from thrifty.agents.strategies.base import options_of
from thrifty.agents.strategies.schedules import allocate
from thrifty.agents.strategies.single import tracker_system_prompt
from thrifty.backends.base import ChatRequest, Message
from thrifty.budget import BudgetExceeded, Limits
from thrifty.errors import BackendError
from thrifty.strategy_options import PlanBudgetOptions

__all__ = ["PlanAndBudgetStrategy", "PlanBudgetOptions", "parse_credits", "parse_subquestions"]

_SUBQ = re.compile(r"(\d+\..*?)(?=\nHint:)(?:\nHint:\s*(.*?))(?:\n|$)", re.DOTALL)
_NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(.+)$", re.MULTILINE)
LEVEL_WORDS = {1: 200, 2: 250, 3: 350, 4: 450, 5: 600}
"""The official level map (``utils/utils.py``): the soft budget B, in words, by difficulty level."""
LEVEL_TOKENS = {1: 4000, 2: 6000, 3: 8000, 4: 12000, 5: 16000}
"""``hard_caps`` without a token limit: B for a whole tool-using sub-trajectory, in tokens."""
FALLBACK_STEP = "1. Directly solve the problem."


def parse_subquestions(text: str, max_n: int = 5) -> list[str]:
    """The official regex (sub-question + ``Hint:`` line), then plain numbered lines, then one step."""
    found = [
        m.group(1).strip() + (f" (Hint: {m.group(2).strip()})" if m.group(2) else "") for m in _SUBQ.finditer(text)
    ]
    if not found:
        found = [f"{m.group(1)}. {m.group(2).strip()}" for m in _NUMBERED.finditer(text)]
    return found[:max_n] or [FALLBACK_STEP]


def parse_credits(text: str, n: int) -> tuple[list[float], int]:
    """(credits per sub-question, problem level). Uniform credits and level 3 when unreadable."""
    for obj, _ in json_objects(text):
        if not isinstance(obj, dict):
            continue
        credits = []
        for i in range(1, n + 1):
            item = obj.get(str(i))
            value = item.get("credit") if isinstance(item, dict) else None
            credits.append(float(value) if isinstance(value, int | float) and value > 0 else 0.0)
        problem = obj.get("problem")
        level = problem.get("evaluated_level") if isinstance(problem, dict) else None
        level = int(level) if isinstance(level, int | float) and 1 <= level <= 5 else 3
        if sum(credits) > 0:
            return credits, level
        return [1.0] * n, level
    return [1.0] * n, 3


@dataclass
class _Plan:
    subquestions: list[str]
    credits: list[float]
    level: int
    allocation: list[int]


class PlanAndBudgetStrategy:
    def __init__(self, options: PlanBudgetOptions | None = None, /, **fields: Any) -> None:
        self.options = options_of(PlanBudgetOptions, options, fields)
        self.name = f"plan-budget-{self.options.schedule}" + ("-hard" if self.options.hard_caps else "")

    async def _ask(self, caller: ModelCaller, prompt: str, purpose: str, max_tokens: int = 400) -> str:
        request = ChatRequest(messages=(Message("user", prompt),), max_tokens=max_tokens, temperature=0.0)
        return (await caller(request, step=0, purpose=purpose)).text

    async def plan(self, question: str, ctx: RunContext, caller: ModelCaller) -> _Plan:
        decompose = load_prompt("pb_decompose").render(domain=self.options.domain, problem=question, level="3")
        subs = parse_subquestions(await self._ask(caller, decompose, "plan:decompose"))
        rate = load_prompt("pb_credits").render(
            domain=self.options.domain, problem=question, subquestions="\n".join(subs)
        )
        text = await self._ask(caller, rate, "plan:credits")
        credits, level = parse_credits(text, len(subs))
        if not self.options.hard_caps:
            return _Plan(subs, credits, level, allocate(LEVEL_WORDS[level], credits, self.options.schedule))
        remaining = ctx.ledger.remaining("total_tokens")
        total = int(remaining) if remaining is not None else LEVEL_TOKENS[level]
        spendable = int(total * (1 - self.options.synthesis_share))
        return _Plan(subs, credits, level, allocate(spendable, credits, self.options.schedule))

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        notes: list[str] = []
        steps: list[TrajectoryStep] = []
        try:
            plan = await self.plan(question, ctx, caller)
        except BudgetExceeded as exc:
            return self._result(question, ctx, None, "budget_exhausted", steps, [f"planning: {exc}"], exc.limit_name)
        except BackendError as exc:
            return self._result(question, ctx, None, "error", steps, [f"planning failed: {exc}"])
        notes.append(f"level {plan.level}; schedule {self.options.schedule}; allocation {plan.allocation}")
        if not self.options.hard_caps:
            return await self._solve_in_one(question, ctx, plan, notes)
        return await self._solve_separately(question, ctx, caller, plan, notes)

    async def _solve_in_one(self, question: str, ctx: RunContext, plan: _Plan, notes: list[str]) -> RunResult:
        """The paper's solve: one trajectory, the plan and its word budgets as soft hints in the prompt."""
        lines = [
            f"{sub} Please only think a little, and directly solve it using up to {words} words."
            for sub, words in zip(plan.subquestions, plan.allocation, strict=True)
        ]
        preamble = load_prompt("pb_solve").render(level=str(plan.level), decomposed="\n".join(lines))
        system = load_prompt("react_system").render(tools=tools_listing(ctx), protocol=protocol_block(ctx))
        result = await run_trajectory(
            question,
            ctx,
            system_prompt=system,
            strategy=self.name,
            budget_block=False,
            preamble=preamble,
            options=self.options,
        )
        return replace(result, notes=(*notes, *result.notes))

    async def _solve_separately(
        self, question: str, ctx: RunContext, caller: ModelCaller, plan: _Plan, notes: list[str]
    ) -> RunResult:
        """thrifty's ``hard_caps`` variant: each sub-question in its own capped child ledger, then a synthesis."""
        steps: list[TrajectoryStep] = []
        answers: list[str] = []
        system = tracker_system_prompt(ctx)
        for i, (sub, budget) in enumerate(zip(plan.subquestions, plan.allocation, strict=True), 1):
            previous = "\n".join(f"{j}. {a}" for j, a in enumerate(answers, 1)) or "(none yet)"
            preamble = load_prompt("pb_subquestion").render(
                problem=question, index=str(i), count=str(len(plan.subquestions)), budget=str(budget), previous=previous
            )
            if budget <= 0:  # zero credit (or weight) for this sub-question: the schedule gave it nothing
                answers.append("(skipped: no budget allocated)")
                notes.append(f"sub {i}: skipped, 0 tokens allocated")
                continue
            child = ctx.ledger.child(Limits(total_tokens=budget), label=f"sub{i}")
            sub_ctx = RunContext(ctx.backend, ctx.tools, child, ctx.emit, ctx.config, ctx.before_step)
            result = await run_trajectory(
                sub,
                sub_ctx,
                system_prompt=system,
                strategy=self.name,
                budget_block=True,
                preamble=preamble,
                options=self.options,
            )
            steps.extend(result.steps)
            answers.append(result.answer or "unknown")
            notes.append(
                f"sub {i} ({budget} tokens, used {child.used.total_tokens}): {result.answer!r} [{result.stop_reason}]"
            )
        return await self._synthesize(question, ctx, caller, plan, answers, steps, notes)

    async def _synthesize(
        self,
        question: str,
        ctx: RunContext,
        caller: ModelCaller,
        plan: _Plan,
        answers: list[str],
        steps: list[TrajectoryStep],
        notes: list[str],
    ) -> RunResult:
        listing = "\n".join(f"{s}\nAnswer: {a}" for s, a in zip(plan.subquestions, answers, strict=True))
        try:
            text = await self._ask(
                caller,
                load_prompt("pb_synthesize").render(problem=question, answers=listing),
                "synthesize",
                max_tokens=200,
            )
        except BudgetExceeded as exc:
            notes.append(f"synthesis unaffordable: {exc}")
            fallback = answers[-1] if answers else None
            return self._result(question, ctx, fallback, "budget_exhausted", steps, notes, exc.limit_name)
        except BackendError as exc:
            notes.append(f"synthesis failed: {exc}")
            return self._result(question, ctx, answers[-1] if answers else None, "error", steps, notes)
        return self._result(question, ctx, final_answer_text(ctx, text) or None, "answered", steps, notes)

    def _result(
        self,
        question: str,
        ctx: RunContext,
        answer: str | None,
        stop: StopReason,
        steps: list[TrajectoryStep],
        notes: list[str],
        exhausted: str | None = None,
    ) -> RunResult:
        return ctx.result(question, self.name, stop, answer, exhausted=exhausted, steps=steps, notes=notes)
