"""The controller loop: model call → tool calls (concurrent) → observations → budget status → repeat.

One trajectory, readable top to bottom in :func:`run_trajectory`. The loop ends when the model
answers, when the budget can no longer pay for a step (then it forces a final answer without tools
if that is still affordable), or on a backend failure. Running out of budget is a normal outcome:
the result carries the best answer so far, ``stop_reason="budget_exhausted"`` and the limit that tripped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from thrifty.agents.calls import ModelCaller
from thrifty.agents.events import BudgetCharged, EventHandler, StepStarted, ToolCalled
from thrifty.agents.prompts import load_prompt
from thrifty.agents.protocol import json_response_format, parse_json_reply, parse_text_reply, strip_answer_tags
from thrifty.agents.result import RunResult, StopReason, TrajectoryStep
from thrifty.agents.thinking import (
    THINKING_TOKENS,
    ThinkingMode,
    dial_for_budget,
    force_thinking_budget,
    mode_for_difficulty,
    needs_forcing,
    probe_difficulty,
    thinking_request,
)
from thrifty.backends.base import Backend, ChatRequest, Completion, Message, TokenCount, ToolCall, ToolSpec
from thrifty.budget import BudgetExceeded, BudgetView, Ledger, render_budget_block
from thrifty.errors import BackendError, ToolError
from thrifty.tools.base import ToolContext, Toolset, validate_arguments


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Knobs of the loop itself (budgets live in :class:`~thrifty.budget.Limits`)."""

    step_max_tokens: int = 768
    final_max_tokens: int = 384
    temperature: float | None = None
    seed: int | None = None
    tool_timeout_seconds: float = 120.0
    keep_tool_responses: int | None = None
    """Keep only the latest N tool responses verbatim in context (BATS keeps 1); None keeps all."""
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
    stop_when_tool_exhausted: Literal["any", "all"] = "any"
    """BATS ends the loop when *any* tool budget is exhausted; "all" keeps going while one tool has units."""


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


@dataclass
class _State:
    messages: list[Message]
    question: str = ""
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
    calls_made: dict[str, int] = field(default_factory=dict)
    """Canonical JSON of each executed call → the step that made it (repeats are refused, not re-paid)."""


def _example_call(spec: ToolSpec) -> str:
    """A filled-in call for the listing: tiny models copy schemas verbatim unless shown an example."""
    samples = {"array": ["..."], "string": "...", "integer": 1, "number": 1.0, "boolean": True, "object": {}}
    props = spec.parameters.get("properties", {})
    args = {k: samples.get(props.get(k, {}).get("type", "string"), "...") for k in spec.parameters.get("required", ())}
    return json.dumps({"name": spec.name, "arguments": args})


def tools_listing(ctx: RunContext) -> str:
    """One JSON schema line per tool (BATS C.1 style), each followed by an example call."""
    lines = []
    for spec in ctx.tools.specs():
        lines.append(json.dumps({"name": spec.name, **spec.openai_schema()["function"]}))
        lines.append(f"Example call: {_example_call(spec)}")
    return "\n".join(lines)


def protocol_block(ctx: RunContext) -> str:
    return load_prompt(f"protocol_{ctx.backend.tool_protocol}").render()


def _trim(state: _State, keep: int | None) -> list[Message]:
    """Old tool responses replaced by a stub when ``keep`` is set (context management)."""
    if keep is None or len(state.tool_message_indices) <= keep:
        return state.messages
    stale = set(state.tool_message_indices[: len(state.tool_message_indices) - keep])
    return [
        Message(m.role, "[older tool response removed to save context]", tool_call_id=m.tool_call_id, name=m.name)
        if i in stale
        else m
        for i, m in enumerate(state.messages)
    ]


TEXT_PROTOCOL_STOPS = ("</tool_code>", "<tool_response>", "</answer>")
"""Stop after one tool call or the answer: the model must not write the tool's response itself."""


def _request(ctx: RunContext, state: _State, *, final: bool, extra: tuple[Message, ...] = ()) -> ChatRequest:
    cfg = ctx.config
    protocol = ctx.backend.tool_protocol
    # A tool whose identical call was just refused is withheld for one step: with the JSON protocol the
    # grammar then makes a looping small model pick another tool (e.g. browse a result) or answer.
    tools = () if final else tuple(t for t in ctx.tools.specs() if t.name not in state.withheld)
    temperature = cfg.temperature
    if state.repeated and cfg.repeat_temperature is not None and not final:
        temperature = max(temperature or 0.0, cfg.repeat_temperature)
    return ChatRequest(
        messages=(*_trim(state, cfg.keep_tool_responses), *extra),
        tools=tools,
        max_tokens=cfg.final_max_tokens if final else cfg.step_max_tokens,
        temperature=temperature,
        seed=cfg.seed,
        stop=TEXT_PROTOCOL_STOPS if protocol == "text" else (),
        response_format=json_response_format(tools, final=final or not tools) if protocol == "json" else None,
    )


def _stalled(ctx: RunContext, state: _State) -> str | None:
    """Why the loop must end although budget remains (step cap, no progress, a repeating model)."""
    cfg = ctx.config
    if len(state.steps) >= cfg.max_steps - 1:
        return f"This is your last step (at most {cfg.max_steps})."
    if state.idle >= cfg.max_idle_steps:
        return "Your recent steps made no progress."
    recent = [
        json.dumps([s.text, [(c["name"], c["arguments"]) for c in s.tool_calls]], sort_keys=True, default=str)
        for s in state.steps[-cfg.max_repeats :]
    ]
    if len(recent) == cfg.max_repeats and len(set(recent)) == 1:
        return "You are repeating the same step."
    return None


def _must_finish(ctx: RunContext, state: _State, count: TokenCount) -> str | None:
    """Why this step must be the last (answer without tools), or None to continue normally.

    Projects the cost of this step plus a final answer after it; if the budget could not pay for
    both, answering now beats being cut off mid-search with nothing.
    """
    view = ctx.ledger.view()
    cfg = ctx.config
    limited = [t for t in ctx.tools.names if view.tool_remaining(t) is not None]
    spent = [t for t in limited if view.tool_remaining(t) == 0]
    if spent and (cfg.stop_when_tool_exhausted == "any" or len(spent) == len(ctx.tools)):
        return f"Your {', '.join(spent)} budget is exhausted."
    if view.remaining_requests is not None and view.remaining_requests <= 1:
        return "This is your last allowed model call."
    step_out = max(state.out_tokens[-3:], default=min(256, cfg.step_max_tokens))
    next_prompt = count.tokens + step_out + cfg.expected_observation_tokens
    if view.remaining_output_tokens is not None and view.remaining_output_tokens < step_out + cfg.final_max_tokens:
        return "Your output-token budget is nearly spent."
    need_total = count.tokens + step_out + next_prompt + cfg.final_max_tokens
    if view.remaining_total_tokens is not None and view.remaining_total_tokens < need_total:
        return "Your token budget is nearly spent."
    if view.remaining_input_tokens is not None and view.remaining_input_tokens < count.tokens + next_prompt:
        return "Your input-token budget is nearly spent."
    if view.remaining_usd is not None:
        price = ctx.ledger.prices.model(ctx.backend.model)
        if view.remaining_usd < price.cost(count.tokens + next_prompt, 0, step_out + cfg.final_max_tokens):
            return "Your dollar budget is nearly spent."
    return None


def _call_key(call: ToolCall) -> str:
    return json.dumps([call.name, call.arguments], sort_keys=True, default=str)


async def _run_tool(ctx: RunContext, caller: ModelCaller, call: ToolCall, step: int, state: _State) -> dict[str, Any]:
    """Dispatch one call; every failure becomes an error observation, never an exception."""
    tool = ctx.tools.get(call.name)
    record: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": dict(call.arguments), "units": 0}
    requested = granted = 0
    started = ctx.ledger.clock.now()
    try:
        if call.error:
            raise ToolError(f"{call.name}: {call.error}")
        if (earlier := state.calls_made.get(_call_key(call))) is not None:
            record["repeat"] = True
            browse = " (for example, browse a URL from the results)" if "browse" in ctx.tools.names else ""
            raise ToolError(
                f"you already made this exact call in step {earlier + 1}; its response is above. "
                f"Use it to answer, or make a different call{browse}. This repeat was not run and cost nothing"
            )
        if tool is None:
            raise ToolError(f"unknown tool {call.name!r}; available tools: {', '.join(ctx.tools.names)}")
        validate_arguments(tool.spec, call.arguments)
        requested = tool.units(call.arguments)
        try:
            entry = ctx.ledger.spend_tool(call.name, requested)  # charged at dispatch, whatever the outcome
        except BudgetExceeded as exc:
            raise ToolError(
                f"the {call.name} budget is exhausted ({exc.limit_name}); use another tool or answer"
            ) from None
        granted = entry.usage.tool(call.name)
        record["units"] = granted
        state.calls_made[_call_key(call)] = step
        ctx.emit(BudgetCharged(entry, ctx.ledger.view()))
        args: Mapping[str, Any] = call.arguments
        if granted < requested:
            args = tool.limit_units(call.arguments, granted)
        tool_ctx = ToolContext(complete=lambda req: caller(req, step=step, purpose=f"tool:{call.name}"))
        remaining = ctx.ledger.remaining("seconds")
        timeout = (
            min(ctx.config.tool_timeout_seconds, remaining)
            if remaining is not None
            else ctx.config.tool_timeout_seconds
        )
        result = await asyncio.wait_for(tool.run(args, tool_ctx), timeout)
        output, is_error = result.content, result.is_error
        if granted < requested:
            output += f"\n(Budget allowed {granted} of the {requested} requested units; the rest were not run.)"
    except ToolError as exc:
        output, is_error = f"Error: {exc}", True
    except TimeoutError:
        output, is_error = f"Error: {call.name} timed out", True
    except BudgetExceeded:
        raise
    except Exception as exc:  # a failing tool is the model's problem to route around, not a crash
        output, is_error = f"Error: {call.name} failed: {type(exc).__name__}: {exc}", True
    record.update(output=output, is_error=is_error)
    ctx.emit(ToolCalled(step, call, output, is_error, requested, granted, ctx.ledger.clock.now() - started))
    return record


def _observations(ctx: RunContext, state: _State, completion: Completion, calls: tuple[ToolCall, ...],
                  records: list[dict[str, Any]], budget_block: bool) -> None:  # fmt: skip
    """Append the assistant turn and the tool responses (plus the ``<budget>`` block) to the history."""
    status = "\n" + render_budget_block(ctx.ledger.view()) if budget_block else ""
    if ctx.backend.tool_protocol == "native":
        state.messages.append(Message("assistant", completion.text, tool_calls=calls))
        for i, (call, rec) in enumerate(zip(calls, records, strict=True)):
            tail = status if i == len(calls) - 1 else ""
            state.tool_message_indices.append(len(state.messages))
            state.messages.append(Message("tool", rec["output"] + tail, tool_call_id=call.id, name=call.name))
        return
    state.messages.append(Message("assistant", completion.text))
    body = "\n\n".join(f"[{r['name']}]\n{r['output']}" for r in records)
    state.tool_message_indices.append(len(state.messages))
    state.messages.append(Message("user", f"<tool_response>\n{body}\n</tool_response>{status}"))


def _record_step(state: _State, completion: Completion, records: list[dict[str, Any]], final: bool) -> None:
    state.out_tokens.append(completion.usage.output_tokens)
    state.steps.append(
        TrajectoryStep(
            index=len(state.steps),
            text=completion.text,
            reasoning=completion.reasoning,
            tool_calls=tuple(records),
            usage=completion.usage,
            final=final,
        )
    )


def _result(ctx: RunContext, state: _State, question: str, strategy: str, stop: StopReason, *,
            answer: str | None, exhausted: str | None = None, error: str | None = None) -> RunResult:  # fmt: skip
    return RunResult(
        question=question,
        answer=answer,
        stop_reason=stop,
        usage=ctx.ledger.used,
        strategy=strategy,
        model=ctx.backend.model,
        exhausted=exhausted,
        error=error,
        seconds=ctx.ledger.elapsed(),
        steps=tuple(state.steps),
        messages=tuple(state.messages),
        ledger=tuple(ctx.ledger.entries),
    )


async def _final_answer(ctx: RunContext, caller: ModelCaller, state: _State, reason: str) -> str | None:
    """One tool-free call asking for the answer; None when even that cannot be afforded."""
    ctx.emit(StepStarted(len(state.steps), final=True))
    nudge = Message("user", load_prompt("final_answer").render(reason=reason, question=state.question))
    request = _request(ctx, state, final=True, extra=(nudge,))
    try:
        completion = await caller(request, step=len(state.steps), purpose="final")
    except (BudgetExceeded, BackendError):  # nothing left to pay with, or the server is gone: keep the best so far
        return None
    state.messages.extend([nudge, Message("assistant", completion.text)])
    _record_step(state, completion, [], final=True)
    answer = final_answer_text(ctx, completion.text)
    # "None" is the prompt's way to say "cannot tell": an earlier candidate answer beats it.
    return None if not answer or answer.strip().lower() == "none" else answer


def _answer_from(ctx: RunContext, completion: Completion) -> tuple[tuple[ToolCall, ...], str | None, tuple[str, ...]]:
    """Tool calls, answer and format errors from one completion, whatever the protocol."""
    protocol = ctx.backend.tool_protocol
    if protocol == "native":
        if completion.tool_calls:
            return completion.tool_calls, None, ()
        return (), strip_answer_tags(completion.text) or None, ()
    parse = parse_json_reply if protocol == "json" else parse_text_reply
    parsed = parse(completion.text, call_prefix=f"call_{id(completion) % 10_000}")
    return parsed.tool_calls, parsed.answer or None, parsed.errors


def final_answer_text(ctx: RunContext, text: str) -> str:
    """The answer in a reply known to be final, whatever the protocol."""
    if ctx.backend.tool_protocol == "json":
        parsed = parse_json_reply(text)
        if parsed.answer is not None:
            return parsed.answer
    return strip_answer_tags(text)


def _handle_miss(ctx: RunContext, state: _State, completion: Completion, errors: tuple[str, ...]) -> str | None:
    """A reply with neither a usable tool call nor an answer: nudge, or accept prose as the answer."""
    text = strip_answer_tags(completion.text) if ctx.backend.tool_protocol != "json" else ""
    if completion.finish_reason == "length":
        # Parse errors of a cut reply are symptoms of the cut; quoting the cut text back only invites
        # small models to copy it (seen in traces: the quote ended up inside the final answer).
        errors = ("Your reply was cut off at the length limit; keep each reply short.",)
    if not errors and text and state.misses >= ctx.config.max_format_misses:
        return text
    state.misses += 1
    problem = "; ".join(errors) if errors else "Your reply had neither a tool call nor an <answer>."
    state.messages.append(Message("assistant", completion.text))
    state.messages.append(Message("user", load_prompt("format_nudge").render(problem=problem)))
    if text and not errors:
        state.best = text
    return None


AnswerHook = Callable[[str], Awaitable[str | None]]
"""Called with each proposed answer; returns a message that sends the agent back to work (sequential
scaling's "Wait, you still have budget…"), or None to accept the answer."""


async def run_trajectory(
    question: str,
    ctx: RunContext,
    *,
    system_prompt: str,
    strategy: str,
    budget_block: bool,
    preamble: str | None = None,
    on_answer: AnswerHook | None = None,
) -> RunResult:
    """Run one agent trajectory under ``ctx.ledger`` and return its result (never raises on budget).

    ``preamble`` is put before the question in the first user message (BATS: the summary of earlier
    attempts replaces their raw trajectories).
    """
    opening = f"{preamble}\n\nQuestion: {question}" if preamble else question
    state = _State(messages=[Message("system", system_prompt), Message("user", opening)], question=question)
    caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
    try:
        while True:
            stalled = _stalled(ctx, state)
            if stalled is not None:
                answer = await _final_answer(ctx, caller, state, stalled)
                return _result(ctx, state, question, strategy, "stalled", answer=answer or state.best)
            if ctx.before_step is not None and not await ctx.before_step(ctx.ledger.view()):
                return _result(ctx, state, question, strategy, "cancelled", answer=state.best)
            request = _request(ctx, state, final=False)
            count = await caller.count(request)
            reason = _must_finish(ctx, state, count)
            if reason is not None:
                answer = await _final_answer(ctx, caller, state, reason)
                error = ctx.ledger.exceeded()
                return _result(ctx, state, question, strategy, "budget_exhausted", answer=answer or state.best,
                               exhausted=error.limit_name if error else _exhausted_name(ctx))  # fmt: skip
            ctx.emit(StepStarted(len(state.steps), final=False))
            completion = await _model_step(ctx, caller, state, request, count)
            calls, answer, errors = _answer_from(ctx, completion)
            if calls:
                records = await asyncio.gather(*(_run_tool(ctx, caller, c, len(state.steps), state) for c in calls))
                _observations(ctx, state, completion, calls, list(records), budget_block)
                state.idle = 0 if any(r["units"] for r in records) else state.idle + 1
                state.repeated = any(r.get("repeat") for r in records)
                state.withheld = frozenset(r["name"] for r in records if r.get("repeat"))
                _record_step(state, completion, list(records), final=False)
                continue
            _record_step(state, completion, [], final=False)
            if answer is None:
                answer = _handle_miss(ctx, state, completion, errors)
                state.idle += 1
            if answer is not None:
                state.messages.append(Message("assistant", completion.text))
                if on_answer is not None and (nudge := await on_answer(answer)) is not None:
                    state.best = answer
                    state.messages.append(Message("user", nudge))
                    continue
                return _result(ctx, state, question, strategy, "answered", answer=answer)
    except BudgetExceeded as exc:
        answer = await _final_answer(ctx, caller, state, f"Budget exhausted ({exc.limit_name}).")
        return _result(ctx, state, question, strategy, "budget_exhausted", answer=answer or state.best,
                       exhausted=exc.limit_name)  # fmt: skip
    except BackendError as exc:
        return _result(ctx, state, question, strategy, "error", answer=state.best, error=str(exc))


async def _model_step(ctx: RunContext, caller: ModelCaller, state: _State, request: ChatRequest,
                      count: TokenCount) -> Completion:  # fmt: skip
    """One agent step through the thinking dial (when set): server-side switches or budget forcing."""
    step = len(state.steps)
    if ctx.config.thinking is None:
        return await caller(request, step=step, count=count)
    if state.thinking is None:
        if ctx.config.thinking == "auto":
            level, _ = await probe_difficulty(caller, state.question, step=step)
            state.thinking = mode_for_difficulty(level)
        else:
            state.thinking = ThinkingMode(ctx.config.thinking)
    mode = dial_for_budget(state.thinking, ctx.ledger.view())
    profile = ctx.backend.profile
    request = thinking_request(request, profile, mode)
    if needs_forcing(profile, mode):
        return await force_thinking_budget(caller, request, THINKING_TOKENS[mode], step=step)
    return await caller(request, step=step, count=count)


def _exhausted_name(ctx: RunContext) -> str:
    """The limit closest to running out, for the stop reason of a forced final answer."""
    view = ctx.ledger.view()
    for tool, left in view.remaining_tools.items():
        if left == 0:
            return f"tool:{tool}"
    candidates = sorted((fraction, name) for name, fraction in view.resource_fractions().items())
    return candidates[0][1] if candidates else "unknown"
