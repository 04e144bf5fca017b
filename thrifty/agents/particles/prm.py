"""Process reward models: a score in (0, 1) for each step of a partial solution.

Three real implementations:

- :class:`LLMJudgePRM` asks a chat model (the generator itself or another one) whether a step
  is correct and reads P(Yes) from the first token's logprobs; one charged call per new step. By
  default ("prefix") the call is the generator's own conversation plus one short question, so a
  server with prefix caching (vLLM, llama.cpp slots) reuses everything up to the new step.
- :class:`SelfCertaintyPRM` needs no call at all: the step's score is the generator's own
  confidence, exp(mean token logprob) (its_hub's self-certainty weighting), read from the
  logprobs of the call that wrote the step.
- :class:`RewardModelPRM` posts the whole solution to a reward-model endpoint (vLLM's pooling
  API serving e.g. Qwen2.5-Math-PRM-7B) and gets every step's score in one call; all particles'
  solutions go out in one pooling request where the server takes one.

Every call is charged to the run's ledger through :class:`ModelCaller`: judge calls as chat calls,
the reward endpoint through :meth:`ModelCaller.charged` (a request and the prompt tokens the server
reports), bounded by the run's deadline and the PRM's own timeout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from thrifty import safejson
from thrifty.agents.calls import ModelCaller, settle
from thrifty.agents.controller import RunContext
from thrifty.agents.particles.generation import solver_messages
from thrifty.agents.prompts import load_prompt
from thrifty.backends.base import Backend, ChatRequest, Completion, Message, TokenLogprob
from thrifty.backends.tokens import count_text_tokens
from thrifty.budget import ModelReservation, Usage
from thrifty.errors import BackendError, BackendHTTPError, BackendTimeout
from thrifty.httppolicy import HttpFailure, HttpPolicy

NEUTRAL = 0.5
"""The score of a step nobody could judge: logit 0, so it neither helps nor hurts a particle."""


class ProcessRewardModel(Protocol):
    @property
    def name(self) -> str: ...

    async def score(
        self, question: str, steps: Sequence[str], known: Sequence[float], *, ctx: RunContext, step: int
    ) -> list[float]:
        """Scores of every step in ``steps``. ``known`` holds scores already computed for a prefix
        of them (a particle's earlier steps), which a per-step scorer reuses instead of paying again."""
        ...


Scoring = tuple[Sequence[str], Sequence[float]]
"""One particle's (steps, known scores), as :meth:`ProcessRewardModel.score` takes them."""


@runtime_checkable
class BatchScoringPRM(Protocol):
    """A PRM that scores several particles together (one batched judge request for all of them)."""

    async def score_many(
        self, question: str, particles: Sequence[Scoring], *, ctx: RunContext, step: int
    ) -> list[list[float]]: ...


async def score_particles(
    prm: ProcessRewardModel, question: str, particles: Sequence[Scoring], *, ctx: RunContext, step: int
) -> list[list[float]]:
    """Every particle's step scores: in one go where the PRM can (:class:`BatchScoringPRM`), else one
    :meth:`~ProcessRewardModel.score` per particle, concurrently."""
    if isinstance(prm, BatchScoringPRM):
        return await prm.score_many(question, particles, ctx=ctx, step=step)
    return await settle(prm.score(question, steps, known, ctx=ctx, step=step) for steps, known in particles)


def yes_probability(completion: Completion) -> float:
    """P(Yes) / (P(Yes) + P(No)) over the first token's top logprobs (any casing or leading space).

    Without logprobs the verdict text decides, softened to 0.9 / 0.1 so one hard judgement never
    zeroes a particle; an answer that is neither is :data:`NEUTRAL`.
    """
    if completion.logprobs:
        first = completion.logprobs[0]
        options = first.top or ((first.token, first.logprob),)
        yes = sum(math.exp(lp) for tok, lp in options if tok.strip().lower() == "yes")
        no = sum(math.exp(lp) for tok, lp in options if tok.strip().lower() == "no")
        if yes + no > 0:
            return yes / (yes + no)
    word = completion.text.strip().lower()
    if word.startswith("yes"):
        return 0.9
    if word.startswith("no"):
        return 0.1
    return NEUTRAL


@dataclass
class LLMJudgePRM:
    """A chat model as the PRM: "is this step correct? Yes/No", scored from logprobs.

    ``backend`` is the judge (``None``: the run's own backend); its tokens land on the run's
    ledger either way. Each new step costs one output token; the new steps of all particles go out
    as one batched request where the judge's server takes several prompts at once
    (:meth:`ModelCaller.batch`: llama-server, vLLM), else as one call each. ``prompt``: "prefix"
    (default) continues the generator's conversation with one short question, sharing its cached
    prefix; "standalone" sends a self-contained judging prompt (question, earlier steps, the step),
    which a different judge model may prefer but no cache can share with the generator.
    """

    backend: Backend | None = None
    top_logprobs: int = 10
    name: str = "llm-judge"
    prompt: Literal["prefix", "standalone"] = "prefix"
    delimiter: str = "\n\n"
    """The generator's step delimiter (prefix mode rebuilds its partial solution exactly)."""

    async def score(
        self, question: str, steps: Sequence[str], known: Sequence[float], *, ctx: RunContext, step: int
    ) -> list[float]:
        return (await self.score_many(question, [(steps, known)], ctx=ctx, step=step))[0]

    async def score_many(
        self, question: str, particles: Sequence[Scoring], *, ctx: RunContext, step: int
    ) -> list[list[float]]:
        """Each particle's scores, judging only the steps past its known ones, all in one batch."""
        caller = ModelCaller(self.backend or ctx.backend, ctx.ledger, ctx.emit)
        jobs = [(k, i) for k, (steps, known) in enumerate(particles) for i in range(len(known), len(steps))]
        requests = [self.request(question, particles[k][0], i) for k, i in jobs]
        completions = await caller.batch(requests, step=step, purpose="prm")
        out = [list(known[: len(steps)]) for steps, known in particles]
        for (k, _), completion in zip(jobs, completions, strict=True):  # jobs are in step order per particle
            out[k].append(yes_probability(completion))
        return out

    def messages(self, question: str, steps: Sequence[str], index: int) -> tuple[Message, ...]:
        """The judge's messages for ``steps[index]`` (only the steps up to it are shown)."""
        if self.prompt == "prefix":
            partial = solver_messages(question, steps[: index + 1], self.delimiter)
            return (*partial, Message("user", load_prompt("prm_step_question").render()))
        text = load_prompt("prm_judge").render(
            question=question, previous="\n\n".join(steps[:index]) or "(none)", step=steps[index]
        )
        return (Message("user", text),)

    def request(self, question: str, steps: Sequence[str], index: int) -> ChatRequest:
        """The one-token judge request for ``steps[index]``."""
        return ChatRequest(
            messages=self.messages(question, steps, index),
            max_tokens=1,
            temperature=0.0,
            logprobs=True,
            top_logprobs=self.top_logprobs,
        )


@dataclass(frozen=True)
class SelfCertaintyPRM:
    """The generator's own confidence as the step score: no extra model call (its_hub's variant).

    ``logprob``: c = mean token logprob of the step; ``entropy``: c = −mean entropy of the top
    logprobs. The score is exp(c), so the filter's log-weight is logit(exp(c)), as in its_hub; a
    step without logprobs (a server that sends none) scores :data:`NEUTRAL` (log-weight 0).
    The filter asks for logprobs on its generation calls when this scorer is in use.
    """

    method: Literal["logprob", "entropy"] = "logprob"
    top_logprobs: int = 20
    name: str = "self-certainty"

    def step_score(self, logprobs: Sequence[TokenLogprob] | None) -> float:
        if not logprobs:
            return NEUTRAL
        by_logprob = self.method == "logprob"
        values = [t.logprob if by_logprob else -_entropy(t) for t in logprobs]
        return math.exp(sum(values) / len(values))


def _entropy(token: TokenLogprob) -> float:
    probs = [math.exp(lp) for _, lp in token.top] or [math.exp(token.logprob)]
    total = sum(probs)
    return -sum(p / total * math.log(p / total) for p in probs if p > 0)


STEP_TAG = "<extra_0>"
"""Qwen2.5-Math-PRM's step separator: the reward is read at each of these tokens."""

PRM_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
"""The system prompt of Qwen2.5-Math-PRM's model card."""


class _BatchRefused(Exception):
    """The server cannot take the solutions as one batch (refused, or answered what cannot be matched)."""


@dataclass
class RewardModelPRM:
    """A reward-model endpoint: vLLM's ``POST /pooling`` serving a process reward model.

    Serve with e.g. ``vllm serve Qwen/Qwen2.5-Math-PRM-7B --runner pooling``. The solution goes out
    as a chat whose assistant turn joins the steps with ``step_tag`` (as the model card does);
    vLLM's STEP pooler answers one ``[p(bad), p(good)]`` pair per tag. A particle filter's particles
    go out together (:meth:`score_many`): one pooling request, charged once, instead of one each.
    """

    base_url: str
    model: str
    step_tag: str = STEP_TAG
    system_prompt: str = PRM_SYSTEM
    timeout: float = 60.0
    client: httpx.AsyncClient | None = None
    """Reused for every call (one is made on first use when none is given; :meth:`aclose` ends it)."""
    name: str = "reward-model"

    _batching: bool = field(default=True, init=False, repr=False, compare=False)

    async def score(
        self, question: str, steps: Sequence[str], known: Sequence[float], *, ctx: RunContext, step: int
    ) -> list[float]:
        if not steps:
            return []
        chat = self._chat(question, steps)
        estimate = count_text_tokens("".join(m["content"] for m in chat)) + 16
        payload = await self._charged(
            {"model": self.model, "messages": chat, "add_generation_prompt": False}, estimate, ctx
        )
        scores = parse_step_rewards(payload)
        if len(scores) != len(steps):
            raise BackendError(f"reward model returned {len(scores)} step scores for {len(steps)} steps")
        return scores

    async def score_many(
        self, question: str, particles: Sequence[Scoring], *, ctx: RunContext, step: int
    ) -> list[list[float]]:
        """Every particle's step scores from one ``/pooling`` request carrying all solutions as token ids,
        rendered by the server's ``/tokenize`` with the chat template a single call uses; one call per
        particle where the server refuses that or answers what cannot be matched (then always)."""
        live = [k for k, (steps, _) in enumerate(particles) if steps]
        if len(live) > 1 and self._batching:
            try:
                scored = await self._score_batch(question, [particles[k][0] for k in live], ctx)
            except _BatchRefused:
                self._batching = False
            else:
                out: list[list[float]] = [[] for _ in particles]
                for k, scores in zip(live, scored, strict=True):
                    out[k] = scores
                return out
        return await settle(self.score(question, steps, known, ctx=ctx, step=step) for steps, known in particles)

    async def _score_batch(self, question: str, solutions: list[Sequence[str]], ctx: RunContext) -> list[list[float]]:
        try:
            prompts = await self._render(question, solutions, ctx)
            body = {"model": self.model, "input": prompts, "add_special_tokens": False}
            payload = await self._charged(body, sum(len(p) for p in prompts), ctx)
        except BackendHTTPError as exc:
            if exc.status_code in (400, 404, 405, 422, 501):
                raise _BatchRefused from exc
            raise
        by_index = {item.get("index"): item for item in payload.get("data") or [] if isinstance(item, dict)}
        if sorted(i for i in by_index if isinstance(i, int)) != list(range(len(solutions))):
            raise _BatchRefused
        scored = [parse_step_rewards({"data": [by_index[i]]}) for i in range(len(solutions))]
        if any(len(scores) != len(steps) for scores, steps in zip(scored, solutions, strict=True)):
            raise _BatchRefused
        return scored

    async def _render(self, question: str, solutions: list[Sequence[str]], ctx: RunContext) -> list[list[int]]:
        """Every solution's token ids, within the run's deadline (rendering is not a model call, but
        it must not outlast the run's seconds)."""
        ctx.ledger.check_time()
        try:
            return await ctx.ledger.deadline().wait(settle(self._tokens(self._chat(question, s)) for s in solutions))
        except TimeoutError:
            raise ctx.ledger.out_of_time() from None

    def _chat(self, question: str, steps: Sequence[str]) -> list[dict[str, str]]:
        """The solution as the model card writes it: the steps joined by the step tag, one after the last."""
        answer = self.step_tag.join(s.strip() for s in steps) + self.step_tag
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]

    async def _tokens(self, chat: list[dict[str, str]]) -> list[int]:
        """The chat rendered and tokenised by the server (``/tokenize``); not a model call."""
        payload = await self._post("/tokenize", {"model": self.model, "messages": chat, "add_generation_prompt": False})
        tokens = payload.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            raise _BatchRefused
        return tokens

    async def _charged(self, body: dict[str, Any], estimate: int, ctx: RunContext) -> dict[str, Any]:
        """One ``/pooling`` request through the one charged call path: a request and the prompt tokens
        the server reports (``estimate`` when it reports none)."""

        async def send(reservation: ModelReservation) -> tuple[dict[str, Any], Usage, bool]:
            payload = await self._post("/pooling", body)
            usage = payload.get("usage") or {}
            tokens = int(usage.get("prompt_tokens") or estimate)
            return payload, Usage(requests=1, input_tokens=tokens), "prompt_tokens" not in usage

        caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
        return await caller.charged(
            self.model, estimate, send, max_tokens=0, min_output_tokens=0, max_seconds=self.timeout
        )

    @property
    def _root(self) -> str:
        """vLLM serves ``/pooling`` and ``/tokenize`` at the server's root: an OpenAI-style base URL's
        ``/v1`` is dropped (``http://host:8000/v1/pooling`` is a 404)."""
        return re.sub(r"/v1$", "", self.base_url.rstrip("/"))

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One POST under the shared HTTP policy (one try, :attr:`timeout` at most); the caller also
        bounds it by the run's deadline."""
        policy = HttpPolicy(timeout=self.timeout)
        if self.client is None:  # one client for all calls: a PRM call runs per particle per step
            self.client = policy.client()
        try:
            response = await policy.request(self.client, "POST", f"{self._root}{path}", json=body)
        except HttpFailure as exc:
            error = BackendTimeout if exc.timed_out else BackendError
            raise error(f"reward model endpoint: {exc}") from exc
        if response.status_code != 200:
            raise BackendHTTPError(response.status_code, f"reward model endpoint {path}: {response.text[:200]}")
        try:
            payload = safejson.loads(response.content)
        except ValueError as exc:
            raise BackendError(f"reward model endpoint answered with invalid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise BackendError("reward model endpoint answered with JSON that is not an object")
        return payload

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def parse_step_rewards(payload: dict[str, Any]) -> list[float]:
    """Step scores from a pooling response: ``data[0].data`` holds one ``[p_bad, p_good]`` per step
    (vLLM's STEP pooler with softmax) or one plain probability per step."""
    try:
        rows = payload["data"][0]["data"]
    except (KeyError, IndexError, TypeError) as exc:
        raise BackendError(f"unexpected reward model response: {str(payload)[:200]}") from exc
    if not isinstance(rows, list):
        raise BackendError(f"unexpected reward model response: {str(payload)[:200]}")
    scores: list[float] = []
    for row in rows:
        value = row[-1] if isinstance(row, list) and row else row
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BackendError(f"unexpected step reward {row!r}")
        scores.append(float(value))
    return scores
