"""The baselines particle filtering is measured against, under the same ledger.

- greedy: one solution at temperature 0.
- best-of-N: N sampled solutions, the one the PRM scores highest wins.
- self-consistency: N sampled solutions, majority vote over their final answers.

Samples run concurrently; when the budget cannot pay for all N, the ones that finished decide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import RunContext
from thrifty.agents.particles.generation import (
    StepSettings,
    conclude,
    extract_answer,
    full_solution,
    split_steps,
    weighted_vote,
)
from thrifty.agents.particles.prm import NEUTRAL, LLMJudgePRM, ProcessRewardModel, Scoring, score_particles
from thrifty.agents.particles.weights import Aggregation, aggregate
from thrifty.agents.result import RunResult, StopReason
from thrifty.agents.thinking import ThinkingMode, choose_mode, dial_for_budget
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import BudgetExceeded


class _Sampling:
    """Shared plumbing: draw N full solutions concurrently, keep those the budget paid for."""

    name = "sampling"

    def __init__(self, n: int, *, temperature: float = 0.8, max_tokens: int = 1024, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.n = n
        self.temperature = temperature
        self.max_tokens = max_tokens

    async def _samples(self, question: str, ctx: RunContext) -> tuple[list[str], str | None]:
        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        dial = None
        if ctx.config.thinking is not None:  # the dial applies to each solution call, as to an agent step
            mode = dial_for_budget(await choose_mode(ctx.config.thinking, caller, question), ctx.ledger.view())
            dial = (ctx.backend.profile, mode)
        outcomes = await asyncio.gather(
            *(self._sample(caller, question, i, dial) for i in range(self.n)), return_exceptions=True
        )
        texts: list[str] = []
        exhausted: str | None = None
        for outcome in outcomes:
            if isinstance(outcome, BudgetExceeded):
                exhausted = outcome.limit_name
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                texts.append(outcome)
        return texts, exhausted

    async def _sample(
        self, caller: ModelCaller, question: str, index: int, dial: tuple[ModelProfile, ThinkingMode] | None
    ) -> str:
        """One solution; one that ran out of tokens before answering is asked to conclude, as PF does."""
        text = await full_solution(
            caller, question, max_tokens=self.max_tokens, temperature=self.temperature, step=index, dial=dial
        )
        if extract_answer(text) is None:
            try:
                ending = await conclude(caller, question, split_steps(text), StepSettings(), step=index)
            except BudgetExceeded:
                return text  # kept as evidence; it has no answer to vote with
            text = f"{text}\n\n{ending}"
        return text

    def _result(
        self,
        question: str,
        ctx: RunContext,
        answer: str | None,
        texts: Sequence[str],
        exhausted: str | None,
        notes: Sequence[str] = (),
    ) -> RunResult:
        stop: StopReason = "budget_exhausted" if exhausted else ("answered" if answer is not None else "stalled")
        answers = [a for a in (extract_answer(t) for t in texts) if a is not None]
        return ctx.result(
            question, self.name, stop, answer, exhausted=exhausted, candidates=dict.fromkeys(answers), notes=notes
        )


class GreedyStrategy(_Sampling):
    name = "greedy"

    def __init__(self, *, max_tokens: int = 1024) -> None:
        super().__init__(1, temperature=0.0, max_tokens=max_tokens)

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        texts, exhausted = await self._samples(question, ctx)
        answer = extract_answer(texts[0]) if texts else None
        return self._result(question, ctx, answer, texts, exhausted)


class SelfConsistencyStrategy(_Sampling):
    name = "self-consistency"

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        texts, exhausted = await self._samples(question, ctx)
        answers = [extract_answer(t) for t in texts]
        answer, votes = weighted_vote(answers, [1.0] * len(answers))
        return self._result(question, ctx, answer, texts, exhausted, [f"votes: {votes}"])


class BestOfNStrategy(_Sampling):
    """N samples scored by the PRM (aggregated over their steps); the best one's answer wins."""

    name = "best-of-n"

    def __init__(
        self,
        n: int,
        prm: ProcessRewardModel | None = None,
        *,
        aggregation: Aggregation = "last",
        temperature: float = 0.8,
        max_tokens: int = 1024,
        name: str | None = None,
    ) -> None:
        super().__init__(n, temperature=temperature, max_tokens=max_tokens, name=name)
        self.prm: ProcessRewardModel = prm or LLMJudgePRM()
        self.aggregation: Aggregation = aggregation

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        texts, exhausted = await self._samples(question, ctx)
        scored: list[tuple[float, str]] = []
        try:
            scored = await self._scored(question, texts, ctx)
        except BudgetExceeded as exc:  # the judge could not be paid: the first sample answers
            exhausted = exc.limit_name
        best = max(scored, key=lambda st: st[0], default=None)
        answer = extract_answer(best[1]) if best else (extract_answer(texts[0]) if texts else None)
        notes = [f"scores: {[round(s, 3) for s, _ in scored]}"]
        return self._result(question, ctx, answer, texts, exhausted, notes)

    async def _scored(self, question: str, texts: Sequence[str], ctx: RunContext) -> list[tuple[float, str]]:
        """Every sample's aggregated score, judged together: one batched judge request for all N where
        the PRM and server allow (:func:`score_particles`), as PF judges a step's particles."""
        particles: list[Scoring] = []
        for text in texts:
            steps = split_steps(text) or [text]
            # With "last", earlier steps do not matter: mark them known (neutral) so a per-step
            # judge pays for one judgement per sample, not one per step.
            particles.append((steps, [NEUTRAL] * (len(steps) - 1) if self.aggregation == "last" else []))
        scores = await score_particles(self.prm, question, particles, ctx=ctx, step=0)
        return [(aggregate(s, self.aggregation), text) for s, text in zip(scores, texts, strict=True)]
