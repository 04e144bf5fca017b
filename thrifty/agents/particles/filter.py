"""Particle filtering (Puri et al. 2025) and Entropic Particle Filtering (ePF, arXiv 2510.05825).

N particles extend their partial solutions one step at a time; a PRM scores each step; particles
are resampled ∝ softmax(logit(score) / τ). ePF adds two things against premature exploitation:

- Entropic Annealing: while ESS/N is under a threshold early in the run, resample with a higher
  temperature T = max(1, N/ESS · (1 − t/T_max)) so an overconfident early PRM cannot collapse
  the population onto one lineage (see :func:`~thrifty.agents.particles.weights.annealing_temperature`).
- Look-ahead Modulation: the paper describes it only in words (a one-step look-ahead whose reward
  modulates the resampling weight) and gives no formula, so **the formula is thrifty's own**
  (algorithms.md §3.2, λ = 0.5 by default in ``epf``; ``lookahead=0`` turns it off): each active
  particle samples one successor step z' and the PRM scores it; resampling uses
  w̃ = (1 − λ)·logit(agg(s₁..s_t)) + λ·logit(agg(s₁..s_t, s'_{t+1})). The first copy of a
  resampled particle commits z' as its next step (so the look-ahead costs a PRM call, not an
  extra generation); further copies sample their own next step, which keeps them apart.

As published (Puri et al.'s code and its_hub), the answer is the **best-scoring particle's**
(untempered argmax of the final log-weights) and T_max is 32 steps; ``selection="vote"`` is
thrifty's option: a vote weighted by the particles' final probabilities.

Particles whose steps are the same (all at the first step; a resampled particle's copies) draft
their next steps as one ``n = k`` request (``shared_drafts``), so the prompt they share is sent once;
each copy still samples its own step. Every generation and PRM call is charged to the run's
ledger. When a call cannot be afforded the filter stops and answers from the particles as they are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from thrifty.agents.calls import ModelCaller, settle
from thrifty.agents.controller import RunContext
from thrifty.agents.particles.generation import (
    Draft,
    Particle,
    StepSettings,
    conclude,
    draft_step,
    draft_steps,
    weighted_vote,
)
from thrifty.agents.particles.prm import LLMJudgePRM, ProcessRewardModel, SelfCertaintyPRM, score_particles
from thrifty.agents.particles.weights import (
    Aggregation,
    AnnealMethod,
    ResampleMethod,
    aggregate,
    annealing_temperature,
    ess,
    logit,
    lookahead_log_weight,
    resample,
    softmax,
)
from thrifty.agents.result import RunResult, StopReason
from thrifty.backends.tokens import count_text_tokens
from thrifty.budget import BudgetExceeded
from thrifty.errors import BackendError

Selection = Literal["best", "vote"]

CONCLUSION_OVERHEAD = 400
"""Tokens a forced conclusion costs beyond the particle's own text: system prompt, question, answer."""


@dataclass(frozen=True)
class FilterSettings:
    particles: int = 4
    max_steps: int = 32
    """T_max (its_hub's ``max_steps``; Puri et al.'s code caps at 40): a particle still unfinished
    after this many steps is asked for its answer (see ``conclude``)."""
    step: StepSettings = field(default_factory=StepSettings)
    resampling: ResampleMethod = "multinomial"
    softmax_temperature: float = 1.0
    aggregation: Aggregation = "last"
    annealing: AnnealMethod | None = None
    """None: plain PF. ePF uses "ess"."""
    ess_threshold: float = 0.5
    early_phase: float = 0.5
    lookahead: float = 0.0
    """λ of Look-ahead Modulation (0 = off)."""
    seed: int = 0
    selection: Selection = "best"
    """The final answer: the best-scoring particle's ("best", as published) or a weighted vote ("vote")."""
    shared_drafts: bool = True
    """Particles with the same steps draft their next steps as one ``n = k`` request (the prompt
    sent once); False sends one request per particle (for a server that refuses ``n > 1``)."""


@dataclass(frozen=True, slots=True)
class Generation:
    """What one iteration looked like: for traces, tests and the benchmark."""

    step: int
    ess: float
    temperature: float
    lineages: int
    ancestors: tuple[int, ...]

    def note(self) -> str:
        return (
            f"step {self.step}: ess={self.ess:.2f} T={self.temperature:.2f} lineages={self.lineages} "
            f"ancestors={list(self.ancestors)}"
        )


class ParticleFilterStrategy:
    """PF/ePF as a run-level strategy (``--strategy pf`` / ``epf``); tools are not used."""

    def __init__(
        self,
        settings: FilterSettings | None = None,
        prm: ProcessRewardModel | SelfCertaintyPRM | None = None,
        name: str = "pf",
    ) -> None:
        self.settings = settings or FilterSettings()
        self.prm: ProcessRewardModel | SelfCertaintyPRM = prm or LLMJudgePRM()
        self.name = name
        self.history: list[Generation] = []
        """The generations of the run this instance finished last (each run also writes them to its
        result's notes). Runs sharing the instance concurrently each keep their own list."""

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        s = self.settings
        rng = random.Random(s.seed)
        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        particles = [Particle(lineage=i) for i in range(s.particles)]
        history: list[Generation] = []
        stop: StopReason = "answered"
        exhausted: str | None = None
        error: str | None = None
        try:
            for t in range(1, s.max_steps + 1):
                before = ctx.ledger.used.total_tokens
                await self._advance([p for p in particles if not p.done], question, caller, ctx, t)
                if all(p.done for p in particles):
                    break
                short = not self._can_afford_step(particles, ctx, ctx.ledger.used.total_tokens - before)
                if t == s.max_steps or short:
                    await settle(self._conclude(p, question, caller, t) for p in particles if not p.done)
                    if short:
                        stop, exhausted = "budget_exhausted", "tokens"
                    break
                particles = self._resample(particles, rng, t, history)
        except BudgetExceeded as exc:
            stop, exhausted = "budget_exhausted", exc.limit_name
        except BackendError as exc:  # the particles so far still vote; the error is kept
            stop, error = "error", str(exc)
        self.history = history
        return self._result(question, ctx, particles, history, stop, exhausted, error)

    async def _advance(
        self, active: list[Particle], question: str, caller: ModelCaller, ctx: RunContext, t: int
    ) -> None:
        """Commit each particle's next step (its kept look-ahead or a fresh one), then look one step
        further. Steps are drafted concurrently and each round of new steps is scored together, so a
        batching judge pays one request per round, not one per particle."""
        fresh = [p for p in active if p.lookahead is None]
        for p in active:
            if p.lookahead is not None:
                text, score, finished = p.lookahead
                p.lookahead = None
                p.steps.append(text)
                p.scores.append(score)
                p.done = finished
        drafted = await self._scored_steps(fresh, question, caller, ctx, t)
        for p, (text, scores, finished) in zip(fresh, drafted, strict=True):
            p.steps.append(text)
            p.scores = scores
            p.done = finished
        if self.settings.lookahead <= 0 or t >= self.settings.max_steps:
            return
        going = [p for p in active if not p.done]
        ahead_steps = await self._scored_steps(going, question, caller, ctx, t)
        for p, (ahead, scores, finished) in zip(going, ahead_steps, strict=True):
            p.lookahead = (ahead, scores[-1], finished)

    async def _scored_steps(
        self, particles: list[Particle], question: str, caller: ModelCaller, ctx: RunContext, t: int
    ) -> list[tuple[str, list[float], bool]]:
        """A new step after each particle's steps and the scores of all its steps with it. The
        self-certainty scorer reads the generation's own logprobs; any other PRM judges the new steps
        of all particles together (:func:`score_particles`)."""
        if not particles:
            return []
        prm = self.prm
        top = prm.top_logprobs if isinstance(prm, SelfCertaintyPRM) else None
        drafts = await self._drafts(particles, question, caller, t, top)
        if isinstance(prm, SelfCertaintyPRM):
            pairs = zip(particles, drafts, strict=True)
            return [(d.text, [*p.scores, prm.step_score(d.logprobs)], d.finished) for p, d in pairs]
        pending = [([*p.steps, d.text], p.scores) for p, d in zip(particles, drafts, strict=True)]
        scores = await score_particles(prm, question, pending, ctx=ctx, step=t)
        return [(d.text, s, d.finished) for d, s in zip(drafts, scores, strict=True)]

    async def _drafts(
        self, particles: list[Particle], question: str, caller: ModelCaller, t: int, top: int | None
    ) -> list[Draft]:
        """One new step per particle, in order. With ``shared_drafts`` the particles whose steps are
        the same (all of them at the first step, a resampled particle's copies later) get theirs
        from one ``n = k`` request, so their shared prompt goes out once."""
        step = self.settings.step
        if not self.settings.shared_drafts:
            return await settle(
                draft_step(caller, question, p.steps, step, step=t, top_logprobs=top) for p in particles
            )
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, p in enumerate(particles):
            groups.setdefault(tuple(p.steps), []).append(i)
        replies = await settle(
            draft_steps(caller, question, list(prefix), step, len(members), step=t, top_logprobs=top)
            for prefix, members in groups.items()
        )
        drafts: list[Draft | None] = [None] * len(particles)
        for members, reply in zip(groups.values(), replies, strict=True):
            for i, draft in zip(members, reply, strict=True):
                drafts[i] = draft
        return [d for d in drafts if d is not None]

    def _can_afford_step(self, particles: list[Particle], ctx: RunContext, last_step_tokens: int) -> bool:
        """Whether the token budget covers another iteration like the last one *and* then a forced
        conclusion for every unfinished particle; if not, the particles conclude now, so running out
        of budget still ends with answers to vote on."""
        remaining = ctx.ledger.view().remaining_total_tokens
        if remaining is None:
            return True
        conclusions = sum(count_text_tokens(p.text) + CONCLUSION_OVERHEAD for p in particles if not p.done)
        return remaining >= last_step_tokens + conclusions

    async def _conclude(self, p: Particle, question: str, caller: ModelCaller, t: int) -> None:
        """Out of steps or budget: ask for the answer the partial solution leads to (its score stays).
        A conclusion the budget cannot pay for is skipped; that particle does not vote."""
        try:
            p.steps.append(await conclude(caller, question, p.steps, self.settings.step, step=t))
        except BudgetExceeded:
            return
        p.done = True

    def log_weight(self, p: Particle) -> float:
        s = self.settings
        current = logit(aggregate(p.scores, s.aggregation))
        ahead = None if p.lookahead is None else logit(aggregate([*p.scores, p.lookahead[1]], s.aggregation))
        return lookahead_log_weight(current, ahead, s.lookahead)

    def _resample(
        self, particles: list[Particle], rng: random.Random, t: int, history: list[Generation]
    ) -> list[Particle]:
        s = self.settings
        weights = [self.log_weight(p) for p in particles]
        probabilities = softmax(weights, s.softmax_temperature)
        temperature = 1.0
        if s.annealing is not None:
            temperature = annealing_temperature(
                probabilities,
                t,
                s.max_steps,
                method=s.annealing,
                ess_threshold=s.ess_threshold,
                early_phase=s.early_phase,
            )
        tempered = softmax(weights, s.softmax_temperature * temperature)
        ancestors = resample(tempered, rng, s.resampling)
        seen: set[int] = set()
        out = []
        for a in ancestors:
            out.append(particles[a].copy(keep_lookahead=a not in seen))
            seen.add(a)
        history.append(Generation(t, ess(probabilities), temperature, len({p.lineage for p in out}), tuple(ancestors)))
        return out

    def select(self, particles: list[Particle]) -> tuple[str | None, str]:
        """The final answer and a note on how it was chosen (see ``FilterSettings.selection``)."""
        weights = [self.log_weight(p) for p in particles]
        if self.settings.selection == "vote":
            answer, mass = weighted_vote([p.answer for p in particles], softmax(weights))
            return answer, f"vote: {mass}"
        answered = [i for i, p in enumerate(particles) if p.answer is not None]
        if not answered:
            return None, "best: no particle has an answer"
        best = max(answered, key=lambda i: weights[i])  # untempered argmax; ties go to the first
        return particles[best].answer, f"best: particle {best} (log-weight {weights[best]:.3f})"

    def _result(
        self,
        question: str,
        ctx: RunContext,
        particles: list[Particle],
        history: list[Generation],
        stop: StopReason,
        exhausted: str | None,
        error: str | None,
    ) -> RunResult:
        answers = [p.answer for p in particles]
        answer, choice = self.select(particles)
        if answer is None and stop == "answered":
            stop = "stalled"
        notes = [g.note() for g in history]
        notes.append(choice)
        notes.append(f"final lineages: {len({p.lineage for p in particles})}/{len(particles)}")
        candidates = dict.fromkeys(a for a in answers if a is not None)
        return ctx.result(
            question, self.name, stop, answer, exhausted=exhausted, error=error, notes=notes, candidates=candidates
        )
