"""Tokens spent by PF/ePF against self-consistency at equal N, per step scorer (issue 19, deliverable 2).

Two modes:

- ``--scripted`` (default): the *protocol's* token accounting, no model. A scripted solver writes
  every solution as the same ``--steps`` steps of about ``--step-words`` words, so each method's
  count is what its requests cost, not luck of generation. A prefix cache is simulated: each
  request's longest prefix (of its rendered messages) shared with an earlier request and its reply
  counts as cached, as vLLM's and llama.cpp's prefix caches would serve it. Accuracy is meaningless
  here (every solution is right) and is not reported.
- ``--base-url URL``: the same methods on a real server (cached tokens as the server reports them).

Run: python benchmarks/particle_cost.py [--tasks 5] [--seed 0] [--n 4] [--base-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from thrifty.agents.agent import Agent
from thrifty.agents.particles import (
    FilterSettings,
    LLMJudgePRM,
    ParticleFilterStrategy,
    SelfCertaintyPRM,
    SelfConsistencyStrategy,
    StepSettings,
    epf_settings,
)
from thrifty.agents.strategies import Strategy
from thrifty.backends import ChatRequest, ScriptedBackend
from thrifty.backends.base import Backend, BackendWrapper, Completion, TokenCount, TokenLogprob
from thrifty.backends.batch import BatchReply, PromptBatch, batchable
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.backends.tokens import count_text_tokens
from thrifty.budget import Usage
from thrifty.evals.math_tasks import generate_math
from thrifty.evals.runner import score


def methods(n: int) -> dict[str, Callable[[], Strategy]]:
    """Each method by name; a name ending in "batched" runs on a backend that judges all particles of
    a step in one request (the scripted one through :class:`BatchingScripted`)."""
    step = StepSettings(max_tokens=128)
    pf, epf = FilterSettings(particles=n, max_steps=8, step=step), epf_settings(n, max_steps=8, step=step)
    return {
        f"self-consistency:{n}": lambda: SelfConsistencyStrategy(n, max_tokens=512),
        f"pf:{n} judge standalone": lambda: ParticleFilterStrategy(pf, LLMJudgePRM(prompt="standalone")),
        f"pf:{n} judge prefix": lambda: ParticleFilterStrategy(pf, LLMJudgePRM()),
        f"pf:{n} self-certainty": lambda: ParticleFilterStrategy(pf, SelfCertaintyPRM()),
        f"epf:{n} judge prefix": lambda: ParticleFilterStrategy(epf, LLMJudgePRM()),
        f"epf:{n} self-certainty": lambda: ParticleFilterStrategy(epf, SelfCertaintyPRM()),
        f"pf:{n} judge prefix, batched": lambda: ParticleFilterStrategy(pf, LLMJudgePRM()),
        f"epf:{n} judge prefix, batched": lambda: ParticleFilterStrategy(epf, LLMJudgePRM()),
    }


class BatchingScripted(BackendWrapper):
    """The scripted solver with the multi-prompt capability of llama-server and vLLM: a batch is
    answered prompt by prompt by the same script (same texts, same simulated cache) and billed as
    one request with the summed tokens, as those servers bill a ``/v1/completions`` prompt list."""

    async def complete(self, request: ChatRequest) -> Completion:
        return await self.inner.complete(request)

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        return await self.inner.count_tokens(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def prepare_batch(self, requests: Sequence[ChatRequest]) -> PromptBatch | None:
        if not batchable(requests):
            return None
        sizes = [(await self.inner.count_tokens(r)).tokens for r in requests]
        return PromptBatch(tuple(requests), tuple(tuple(range(size)) for size in sizes))

    async def complete_batch(self, batch: PromptBatch) -> BatchReply:
        completions = [await self.inner.complete(r) for r in batch.requests]
        total = sum((c.usage for c in completions), Usage())
        return BatchReply(tuple(completions), replace(total, requests=1))


class PrefixCache:
    """Marks as cached each request's longest prefix shared with an earlier request (or its reply)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def cached_tokens(self, request: ChatRequest, reply: str) -> int:
        text = "".join(f"<{m.role}>{m.content}" for m in request.messages)
        best = max((_common(text, old) for old in self.seen), default=0)
        self.seen.append(text + reply)
        return count_text_tokens(text[:best]) if best else 0


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def scripted_solver(steps: int, words: int) -> ScriptedBackend:
    """Solutions of ``steps`` steps of ``words`` words; the judge says Yes; logprobs when asked."""
    cache = PrefixCache()

    def step_text(k: int) -> str:
        return f"## Step {k + 1}: " + " ".join(f"w{k}x{i}" for i in range(words))

    def respond(request: ChatRequest) -> Completion:
        last = request.messages[-1]
        if request.max_tokens == 1:
            text = "Yes"
        elif last.role == "assistant" and last.content.endswith("\\boxed{"):
            text = "7"
        elif not request.stop:
            text = "\n\n".join([*(step_text(k) for k in range(steps)), "The answer is \\boxed{7}"])
        else:
            done = last.content.count("\n\n") if last.role == "assistant" else 0
            text = "The answer is \\boxed{7}" if done >= steps else step_text(done)
        prompt = count_text_tokens("".join(m.content for m in request.messages)) + 4 * len(request.messages)
        usage = Usage(1, prompt, cache.cached_tokens(request, text), count_text_tokens(text))
        logprobs = tuple(TokenLogprob(w, -0.1) for w in text.split()) if request.logprobs else None
        return Completion(text, "scripted", usage, logprobs=logprobs)

    return ScriptedBackend([respond] * 1_000_000)


@dataclass
class Tally:
    usage: Usage = field(default_factory=Usage)
    correct: int = 0
    n: int = 0


async def measure(backend: Backend, n: int, tasks: int, seed: int) -> dict[str, Tally]:
    out: dict[str, Tally] = {}
    for name, make in methods(n).items():
        tally = Tally()
        chosen = (
            BatchingScripted(backend) if name.endswith("batched") and isinstance(backend, ScriptedBackend) else backend
        )
        for task in generate_math(tasks, seed):
            result = await Agent(chosen, strategy=make(), limits="tokens=200000").run(task.question)
            tally = replace(tally, usage=tally.usage + result.usage, n=tally.n + 1)
            tally.correct += score(task, result.answer)
        out[name] = tally
    return out


def table(tallies: dict[str, Tally], scripted: bool) -> str:
    base = next(iter(tallies.values()))
    base_total = (base.usage.input_tokens + base.usage.output_tokens) / base.n
    base_fresh = (base.usage.input_tokens - base.usage.cached_tokens + base.usage.output_tokens) / base.n
    head = "| method | requests/task | tokens/task (in+out) | × SC | uncached tokens/task | × SC |"
    lines = [head + ("" if scripted else " accuracy |"), "|---|---|---|---|---|---|" + ("" if scripted else "---|")]
    for name, t in tallies.items():
        total = (t.usage.input_tokens + t.usage.output_tokens) / t.n
        fresh = (t.usage.input_tokens - t.usage.cached_tokens + t.usage.output_tokens) / t.n
        row = (
            f"| {name} | {t.usage.requests / t.n:.1f} | {total:,.0f} | {total / base_total:.1f} "
            f"| {fresh:,.0f} | {fresh / base_fresh:.1f} |"
        )
        lines.append(row + ("" if scripted else f" {t.correct}/{t.n} |"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4, help="scripted: steps per solution")
    parser.add_argument("--step-words", type=int, default=30, help="scripted: words per step")
    parser.add_argument("--base-url", help="a real OpenAI-compatible server instead of the scripted solver")
    parser.add_argument("--model", help="with --base-url: the model name it serves")
    args = parser.parse_args()

    async def run() -> dict[str, Tally]:
        if args.base_url is None:
            return await measure(scripted_solver(args.steps, args.step_words), args.n, args.tasks, args.seed)
        async with open_backend(BackendConfig(base_url=args.base_url, model=args.model)) as backend:
            return await measure(backend, args.n, args.tasks, args.seed)

    tallies = asyncio.run(run())
    print(table(tallies, args.base_url is None))
    totals = [t.usage.total_tokens / t.n for t in tallies.values()]
    print(f"\n{args.tasks} tasks (seed {args.seed}); median tokens/task over methods {statistics.median(totals):,.0f}")


if __name__ == "__main__":
    main()
