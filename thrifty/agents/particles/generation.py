"""Step-wise generation of solutions: one reasoning step per call, continuing a partial answer.

A step is the text up to the delimiter (default a blank line, as in Puri et al.). Continuing a
partial solution uses assistant prefill: the partial text goes out as the last (assistant)
message and the server continues it. How each server is asked to continue (vLLM's
``continue_final_message``) and whether it echoes the prefill is the backend's business: the
reply is always the continuation alone (``Backend.complete``). Every particle of a run shares the system and user
turns, so servers with prefix caching (vLLM, llama.cpp slots) reuse that prefix.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from thrifty.agents.calls import ModelCaller
from thrifty.agents.prompts import load_prompt
from thrifty.agents.strategies.judging import normalize
from thrifty.agents.thinking import ThinkingMode, dialled_call
from thrifty.backends.base import ChatRequest, Message, TokenLogprob
from thrifty.backends.profiles import ModelProfile


@dataclass(frozen=True, slots=True)
class StepSettings:
    delimiter: str = "\n\n"
    max_tokens: int = 256
    """Per step (the original code allows 1024)."""
    temperature: float = 0.8
    top_p: float = 1.0


@dataclass
class Particle:
    """One partial solution: its steps, their PRM scores, and where it came from."""

    steps: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    done: bool = False
    lineage: int = 0
    """The index of the initial particle it descends from (unique lineages measure diversity)."""
    lookahead: tuple[str, float, bool] | None = None
    """A scored successor step (text, score, finishes) kept by Look-ahead Modulation."""

    def copy(self, keep_lookahead: bool) -> Particle:
        return Particle(
            list(self.steps), list(self.scores), self.done, self.lineage, self.lookahead if keep_lookahead else None
        )

    @property
    def text(self) -> str:
        return "\n\n".join(self.steps)

    @property
    def answer(self) -> str | None:
        return extract_answer(self.text)


def solver_messages(question: str, steps: Sequence[str], delimiter: str) -> tuple[Message, ...]:
    messages = [Message("system", load_prompt("math_solver").render()), Message("user", question)]
    if steps:
        messages.append(Message("assistant", delimiter.join(steps) + delimiter))
    return tuple(messages)


@dataclass(frozen=True, slots=True)
class Draft:
    """One generated step: its text, whether it finishes the solution, and its token logprobs."""

    text: str
    finished: bool
    logprobs: tuple[TokenLogprob, ...] | None = None


async def draft_step(
    caller: ModelCaller,
    question: str,
    steps: Sequence[str],
    settings: StepSettings,
    *,
    step: int,
    top_logprobs: int | None = None,
) -> Draft:
    """Generate the next step of ``steps`` (with its logprobs when ``top_logprobs`` is set)."""
    drafts = await draft_steps(caller, question, steps, settings, 1, step=step, top_logprobs=top_logprobs)
    return drafts[0]


async def draft_steps(
    caller: ModelCaller,
    question: str,
    steps: Sequence[str],
    settings: StepSettings,
    count: int,
    *,
    step: int,
    top_logprobs: int | None = None,
) -> list[Draft]:
    """``count`` independent next steps of the same ``steps`` as one ``n = count`` request, so the
    shared prompt is sent (and, on vLLM and OpenAI, billed) once instead of once per particle. A
    server that returns fewer choices than asked is asked again for the rest."""
    request = ChatRequest(
        messages=solver_messages(question, steps, settings.delimiter),
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        stop=(settings.delimiter,),
        logprobs=top_logprobs is not None,
        top_logprobs=top_logprobs,
        n=count,
    )
    completion = await caller(request, step=step, purpose="particle")
    texts = completion.samples or (completion.text,)
    logprobs = [*(completion.sample_logprobs or (completion.logprobs,))]
    logprobs += [None] * (len(texts) - len(logprobs))
    drafts = [_draft(text, lp) for text, lp in zip(texts[:count], logprobs, strict=False)]
    if len(drafts) < count:
        drafts += await draft_steps(
            caller, question, steps, settings, count - len(drafts), step=step, top_logprobs=top_logprobs
        )
    return drafts


def _draft(text: str, logprobs: tuple[TokenLogprob, ...] | None) -> Draft:
    text = text.strip()
    return Draft(text, not text or extract_answer(text) is not None, logprobs)


async def next_step(
    caller: ModelCaller, question: str, steps: Sequence[str], settings: StepSettings, *, step: int
) -> tuple[str, bool]:
    """Generate the next step of ``steps``; return (text, whether the solution is finished)."""
    draft = await draft_step(caller, question, steps, settings, step=step)
    return draft.text, draft.finished


CONCLUSION = "Therefore, the final answer is: $\\boxed{"


async def conclude(
    caller: ModelCaller, question: str, steps: Sequence[str], settings: StepSettings, *, step: int
) -> str:
    """Force an answer out of an unfinished solution (s1-style budget forcing): prefill the solver
    prompt's own closing sentence up to ``\\boxed{`` and read the next few tokens."""
    prefilled = settings.delimiter.join(steps) + settings.delimiter + CONCLUSION
    request = ChatRequest(
        messages=(*solver_messages(question, (), settings.delimiter), Message("assistant", prefilled)),
        max_tokens=24,
        temperature=0.0,
        stop=("}",),
    )
    completion = await caller(request, step=step, purpose="conclude")
    value = completion.text.split("}")[0].strip()
    return f"{CONCLUSION}{value}}}$."


async def full_solution(
    caller: ModelCaller,
    question: str,
    *,
    max_tokens: int,
    temperature: float,
    step: int = 0,
    dial: tuple[ModelProfile, ThinkingMode] | None = None,
) -> str:
    """A whole solution in one call (the greedy, best-of-N and self-consistency baselines); with a
    thinking ``dial`` (the model's profile and the mode), through it: the solution is the reply after
    the thinking, or, when the reply states no answer, the thinking followed by the reply. A model
    with no thinking mode of its own often works the problem out to its boxed answer inside the
    prompted block and then only comments on it (the 0.5B: "This solution is efficient…"); taking
    the reply alone threw that answer away."""
    request = ChatRequest(
        messages=solver_messages(question, (), "\n\n"), max_tokens=max_tokens, temperature=temperature
    )
    if dial is not None:
        completion = await dialled_call(caller, request, *dial, step=step, purpose="sample")
        reply = completion.text.strip()
        if extract_answer(reply) is None and completion.reasoning:
            return f"{completion.reasoning.strip()}\n\n{reply}".strip()
        return reply
    completion = await caller(request, step=step, purpose="sample")
    return completion.text.strip()


def split_steps(text: str, delimiter: str = "\n\n") -> list[str]:
    return [s.strip() for s in text.split(delimiter) if s.strip()]


_BOXED = re.compile(r"\\boxed\s*\{")
_FINAL = re.compile(r"final answer is[:\s]*\$?([^\n$]+?)\$?\s*(?:\.|$|I hope)", re.IGNORECASE)


def extract_answer(text: str) -> str | None:
    """The last ``\\boxed{...}`` (nested braces allowed), else "the final answer is: X"."""
    matches = list(_BOXED.finditer(text))
    if matches:
        start = matches[-1].end()
        depth = 1
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start:i].strip() or None
        return None
    final = _FINAL.search(text)
    return final.group(1).strip() if final else None


def answer_key(answer: str) -> str:
    """A voting key: numbers compare by value ("1,200.0" = "1200"), other answers as normalised text."""
    plain = re.sub(r"\\(?:text|mathrm)\{([^}]*)\}|[$\s]|\\!|,(?=\d{3}\b)", r"\1", answer).rstrip(".")
    try:
        value = float(plain)
    except ValueError:
        return normalize(answer)
    return str(int(value)) if value.is_integer() else repr(value)


def weighted_vote(answers: Sequence[str | None], weights: Sequence[float]) -> tuple[str | None, dict[str, float]]:
    """The answer with the most probability mass (same normalised answer pooled); ties → first seen."""
    mass: dict[str, float] = defaultdict(float)
    shown: dict[str, str] = {}
    for answer, weight in zip(answers, weights, strict=True):
        if answer is None:
            continue
        key = answer_key(answer)
        mass[key] += weight
        shown.setdefault(key, answer)
    if not mass:
        return None, {}
    best = max(mass, key=lambda k: mass[k])
    return shown[best], {shown[k]: round(v, 4) for k, v in mass.items()}
