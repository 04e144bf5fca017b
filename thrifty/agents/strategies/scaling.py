"""The BATS paper's scaling baselines (§5.1): sequential ("Wait, you still have budget") and parallel.

Sequential: when the agent answers while tool budget remains, it is told to keep exploring; it
stops when it has answered without using a tool five times in a row, or the budget runs out. The
loop's own "same reply three times = stuck" rule is lifted above five for it, so repeating one
answer counts as refusals, as in the paper, not as a stall.

Parallel: N independent runs, each in a child ledger with its own share of the budget, aggregated
as in BATS (Appendix C.4):

- majority: the LLM judge tallies the answers, treating semantically equivalent ones as one vote
  (``vote="judge"``, the paper's); ``vote="string"`` is thrifty's cheaper option: a normalised
  string vote, the judge called only on a tie;
- best-of-N: the judge sees every candidate's whole trajectory;
- pass@N: the run counts as correct when any candidate is (``RunResult.pass_at_n``; the eval log's
  ``correct`` is then that, and the majority answer is only shown).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import RunContext, run_trajectory
from thrifty.agents.prompts import load_prompt
from thrifty.agents.result import RunResult, StopReason
from thrifty.agents.strategies.base import options_of
from thrifty.agents.strategies.judging import Candidate, is_none, judge, majority, normalize, render_trajectory
from thrifty.agents.strategies.single import TrackerStrategy, tracker_system_prompt
from thrifty.budget import Limits
from thrifty.strategy_options import ParallelOptions, SequentialOptions

__all__ = ["ParallelOptions", "ParallelStrategy", "SequentialOptions", "SequentialStrategy", "split_limits"]


def tool_budget_left(ctx: RunContext) -> bool:
    """Some limited tool still has units (or no tool is limited at all)."""
    view = ctx.ledger.view()
    limited = [view.tool_remaining(t) for t in ctx.tools.names if view.tool_remaining(t) is not None]
    return bool(ctx.tools.names) and (not limited or any(r for r in limited))


class SequentialStrategy:
    name = "sequential"

    def __init__(self, options: SequentialOptions | None = None, /, **fields: Any) -> None:
        self.options = options_of(SequentialOptions, options, fields)

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        # The paper stops after five refusals; the loop's stall rule (three identical replies) must not cut in first.
        repeats = max(ctx.config.max_repeats, self.options.max_refusals + 1)
        ctx = replace(ctx, config=replace(ctx.config, max_repeats=repeats))
        refusals = 0
        units_at_last_answer = ctx.ledger.used.tool_calls
        answers: list[str] = []

        async def on_answer(answer: str) -> str | None:
            nonlocal refusals, units_at_last_answer
            answers.append(answer)
            used = ctx.ledger.used.tool_calls
            refusals = refusals + 1 if used == units_at_last_answer else 0
            units_at_last_answer = used
            if refusals >= self.options.max_refusals or not tool_budget_left(ctx):
                return None
            return load_prompt("sequential_wait").render()

        result = await run_trajectory(
            question,
            ctx,
            system_prompt=tracker_system_prompt(ctx),
            strategy=self.name,
            budget_block=True,
            on_answer=on_answer,
            options=self.options,
        )
        return replace(result, candidates=tuple(dict.fromkeys(answers)))


def split_limits(limits: Limits, n: int) -> Limits:
    """An even share of every limit for one of ``n`` parallel runs (at least one unit of each tool)."""

    def share(value: int | None) -> int | None:
        return None if value is None else max(1, value // n)

    return Limits(
        requests=share(limits.requests),
        input_tokens=share(limits.input_tokens),
        output_tokens=share(limits.output_tokens),
        total_tokens=share(limits.total_tokens),
        usd=None if limits.usd is None else limits.usd / n,
        seconds=limits.seconds,
        tools={t: max(1, u // n) for t, u in limits.tools.items()},
    )


class ParallelStrategy:
    """N independent tracker runs at sampling temperature, then one aggregate answer."""

    def __init__(self, options: ParallelOptions | int | None = None, /, **fields: Any) -> None:
        if isinstance(options, int):  # ParallelStrategy(4), as before the options model
            options, fields = None, {"n": options, **fields}
        self.options = options_of(ParallelOptions, options, fields)
        self.name = f"parallel-{self.options.aggregate}"

    async def solve(self, question: str, ctx: RunContext) -> RunResult:
        opts = self.options
        per_run = opts.per_run or split_limits(ctx.ledger.limits, opts.n)
        base = TrackerStrategy(opts)  # each run's trajectory options are the parallel strategy's

        async def one(i: int) -> RunResult:
            child = ctx.ledger.child(per_run, label=f"run{i}")
            seed = None if ctx.config.seed is None else ctx.config.seed + i
            config = replace(ctx.config, temperature=opts.temperature, seed=seed)
            return await base.solve(
                question, RunContext(ctx.backend, ctx.tools, child, ctx.emit, config, ctx.before_step)
            )

        results = await asyncio.gather(*(one(i) for i in range(opts.n)))
        answers = [r.answer for r in results if not is_none(r.answer)]
        answer, notes = await self._choose(question, ctx, results, answers)
        stop: StopReason = "answered" if any(r.stop_reason == "answered" for r in results) else results[0].stop_reason
        return ctx.result(
            question,
            self.name,
            stop,
            answer,
            exhausted=next((r.exhausted for r in results if r.exhausted), None),
            steps=(s for r in results for s in r.steps),
            candidates=(a for a in answers if a is not None),
            notes=notes,
            pass_at_n=opts.aggregate == "pass_at_n",
        )

    async def _choose(
        self, question: str, ctx: RunContext, results: list[RunResult], answers: list[str | None]
    ) -> tuple[str | None, list[str]]:
        real = [a for a in answers if a is not None]
        winner, tied = majority(real)
        notes = [f"votes: {real}"]
        distinct = len({normalize(a) for a in real})
        aggregate = self.options.aggregate
        if aggregate == "pass_at_n" or winner is None or distinct < 2:
            return winner, notes
        if aggregate == "majority" and self.options.vote == "string" and not tied:
            return winner, notes
        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        pool = [Candidate(r.answer or "", render_trajectory(r.steps)) for r in results if not is_none(r.answer)]
        kind = "majority" if aggregate == "majority" else "best_of_n"
        choice = await judge(caller, question, pool, kind=kind)
        notes.append(f"judge ({kind}) chose {choice}")
        return (pool[choice].answer if choice is not None else winner), notes
