"""The controller loop: model call → tool calls (concurrent) → observations → budget status → repeat.

One trajectory, readable top to bottom in :func:`run_trajectory`. The loop ends when the model
answers, when the budget can no longer pay for a step (then it forces a final answer without tools
if that is still affordable), or on a backend failure. Running out of budget is a normal outcome:
the result carries the best answer so far and the limit that tripped (``Agent.run`` reports a run
that has an answer as ``answered``, see :func:`thrifty.agents.agent.truthful`).
"""

from __future__ import annotations

import json
from typing import Literal

from thrifty.agents.calls import ModelCaller
from thrifty.agents.context import AnswerHook, LoopConfig, LoopState, RunContext, StepGate
from thrifty.agents.dispatch import record_step, run_calls
from thrifty.agents.events import StepStarted
from thrifty.agents.projection import StepCosts, closest_limit, expected_step_out, finish_reason, limit_of
from thrifty.agents.prompts import load_prompt
from thrifty.agents.protocol import json_response_format, parse_json_reply, parse_text_reply, strip_answer_tags
from thrifty.agents.rail_steps import reformulate, search_and_read, shorten
from thrifty.agents.rails import Rails, rails_for
from thrifty.agents.replies import is_abstention
from thrifty.agents.result import RunResult, StopReason
from thrifty.agents.thinking import choose_mode, dial_for_budget, dialled_call
from thrifty.backends.base import ChatRequest, Completion, Message, TokenCount, ToolCall, ToolSpec
from thrifty.budget import BudgetExceeded
from thrifty.errors import BackendError
from thrifty.strategy_options import TrajectoryOptions

__all__ = [
    "AnswerHook",
    "LoopConfig",
    "RunContext",
    "StepGate",
    "final_answer_text",
    "protocol_block",
    "run_trajectory",
    "tools_listing",
]


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


def _trim(state: LoopState, keep: int | None) -> list[Message]:
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


_Verdict = Literal["continue", "ask_again", "accept"]
"""Where a step leads: another step, one more (tool-free) answer call, or the answer."""

TEXT_PROTOCOL_STOPS = ("</tool_code>", "<tool_response>", "</answer>")
"""Stop after one tool call or the answer: the model must not write the tool's response itself."""


def _request(ctx: RunContext, state: LoopState, *, final: bool, extra: tuple[Message, ...] = ()) -> ChatRequest:
    cfg = ctx.config
    protocol = ctx.backend.tool_protocol
    # A tool whose identical call was just refused is withheld for one step: with the JSON protocol the
    # grammar then makes a looping small model pick another tool (e.g. browse a result) or answer.
    # A spent tool is not offered either: with stop_when_tool_exhausted="all" the loop goes on with the others.
    view = ctx.ledger.view()
    offered = (t for t in ctx.tools.specs() if t.name not in state.withheld and view.tool_remaining(t.name) != 0)
    tools = () if final else tuple(offered)
    temperature = cfg.temperature
    if state.repeated and cfg.repeat_temperature is not None and not final:
        temperature = max(temperature or 0.0, cfg.repeat_temperature)
    return ChatRequest(
        messages=(*_trim(state, state.options.keep_tool_responses), *extra),
        tools=tools,
        max_tokens=cfg.final_max_tokens if final else cfg.step_max_tokens,
        temperature=temperature,
        seed=cfg.seed,
        stop=TEXT_PROTOCOL_STOPS if protocol == "text" else (),
        response_format=json_response_format(tools, final=final or not tools) if protocol == "json" else None,
    )


_STALL_WORDS = {
    "This is your last st": "the step cap was reached",
    "Your recent steps ma": "the model's recent steps made no progress",
    "You are repeating th": "the model repeated the same step",
}
"""What each :func:`_stalled` reason (phrased for the model) means to the user, by its opening."""


def _stalled(ctx: RunContext, state: LoopState) -> str | None:
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


def _must_finish(ctx: RunContext, state: LoopState, count: TokenCount) -> str | None:
    """Why this step must be the last (answer without tools); the rules live in :mod:`projection`."""
    cfg = ctx.config
    costs = StepCosts(
        prompt_tokens=count.tokens,
        step_out=expected_step_out(state.out_tokens, cfg.step_max_tokens),
        final_out=cfg.final_max_tokens,
        observation_tokens=cfg.expected_observation_tokens,
    )
    view = ctx.ledger.view()
    price = ctx.ledger.prices.model(ctx.backend.model) if view.remaining_usd is not None else None
    return finish_reason(
        view, costs, tools=ctx.tools.names, price=price, tool_policy=state.options.stop_when_tool_exhausted
    )


def _result(
    ctx: RunContext,
    state: LoopState,
    question: str,
    strategy: str,
    stop: StopReason,
    *,
    answer: str | None,
    exhausted: str | None = None,
    error: str | None = None,
    detail: str | None = None,
) -> RunResult:
    if stop == "answered" and answer is None:  # asked once more and still no answer: not "answered"
        stop, detail = "stalled", "the model gave no answer when asked for one"
    return ctx.result(
        question,
        strategy,
        stop,
        answer,
        exhausted=exhausted,
        error=error,
        detail=detail,
        steps=state.steps,
        messages=state.messages,
    )


async def _final_answer(ctx: RunContext, caller: ModelCaller, state: LoopState, reason: str) -> str | None:
    """One tool-free call asking for the answer; None when even that cannot be afforded."""
    ctx.emit(StepStarted(len(state.steps), final=True))
    fallback = (
        "If you truly cannot tell, write <answer>None</answer>."
        if ctx.config.abstain
        else "If the tool responses do not settle it, give your best guess from them; never answer None."
    )
    prompt = load_prompt("final_answer").render(reason=reason, question=state.question, fallback=fallback)
    nudge = Message("user", prompt)
    request = _request(ctx, state, final=True, extra=(nudge,))
    try:
        completion = await caller(request, step=len(state.steps), purpose="final")
    except (BudgetExceeded, BackendError):  # nothing left to pay with, or the server is gone: keep the best so far
        return None
    state.messages.extend([nudge, Message("assistant", completion.text)])
    record_step(state, completion, [], final=True)
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


def _handle_miss(ctx: RunContext, state: LoopState, completion: Completion, errors: tuple[str, ...]) -> str | None:
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


async def run_trajectory(
    question: str,
    ctx: RunContext,
    *,
    system_prompt: str,
    strategy: str,
    budget_block: bool,
    preamble: str | None = None,
    on_answer: AnswerHook | None = None,
    options: TrajectoryOptions | None = None,
) -> RunResult:
    """Run one agent trajectory under ``ctx.ledger`` and return its result (never raises on budget).

    ``preamble`` is put before the question in the first user message (BATS: the summary of earlier
    attempts replaces their raw trajectories); ``options`` are the strategy's (context kept, tool policy).
    """
    opening = f"{preamble}\n\nQuestion: {question}" if preamble else question
    messages = [Message("system", system_prompt), Message("user", opening)]
    state = LoopState(messages=messages, question=question, options=options or TrajectoryOptions())
    caller = ModelCaller(ctx.backend, ctx.ledger, ctx.emit)
    rails = ctx.config.rails or rails_for(ctx.backend.profile)

    async def finish(
        stop: StopReason, reason: str, exhausted: str | None = None, detail: str | None = None
    ) -> RunResult:
        answer = await _final_answer(ctx, caller, state, reason)
        answer = await shorten(ctx, caller, state, rails, answer) if answer else state.best
        return _result(ctx, state, question, strategy, stop, answer=answer, exhausted=exhausted, detail=detail)

    try:
        if (read := await search_and_read(ctx, caller, state, rails, budget_block)) is not None:
            return _result(ctx, state, question, strategy, "answered", answer=read)
        while True:
            if (stalled := _stalled(ctx, state)) is not None:
                return await finish("stalled", stalled, detail=_STALL_WORDS.get(stalled[:20], "the model stalled"))
            if ctx.before_step is not None and not await ctx.before_step(ctx.ledger.view()):
                return _result(ctx, state, question, strategy, "cancelled", answer=state.best)
            request = _request(ctx, state, final=False)
            count = await caller.count(request)
            if (reason := _must_finish(ctx, state, count)) is not None:
                return await finish("budget_exhausted", reason, *_tripped(ctx, reason, count))
            verdict, text = await _step(ctx, caller, state, request, count, rails, budget_block, on_answer)
            if verdict == "ask_again":
                return await finish("answered", text)
            if verdict == "accept":
                return _result(ctx, state, question, strategy, "answered", answer=text)
    except BudgetExceeded as exc:
        return await finish("budget_exhausted", f"Budget exhausted ({exc.limit_name}).", exc.limit_name)
    except BackendError as exc:
        return _result(ctx, state, question, strategy, "error", answer=state.best, error=str(exc))


async def _step(
    ctx: RunContext,
    caller: ModelCaller,
    state: LoopState,
    request: ChatRequest,
    count: TokenCount,
    rails: Rails,
    budget_block: bool,
    on_answer: AnswerHook | None,
) -> tuple[_Verdict, str]:
    """One model step and what it leads to, as :func:`_settle` says; a repeated call that is not
    reformulated asks for the answer, and an accepted answer has had the short-answer rail."""
    ctx.emit(StepStarted(len(state.steps), final=False))
    completion = await _model_step(ctx, caller, state, request, count)
    calls, answer, errors = _answer_from(ctx, completion)
    if calls:
        if not await _act(ctx, caller, state, completion, calls, rails, budget_block):
            return "ask_again", "You repeated a call you already made."
        return "continue", ""
    record_step(state, completion, [], final=False)
    verdict, text = await _settle(ctx, state, completion, answer, errors, on_answer, rails)
    if verdict == "accept":
        text = await shorten(ctx, caller, state, rails, text)
    return verdict, text


async def _act(
    ctx: RunContext,
    caller: ModelCaller,
    state: LoopState,
    completion: Completion,
    calls: tuple[ToolCall, ...],
    rails: Rails,
    budget_block: bool,
) -> bool:
    """Run a step's tool calls; False when a repeated call (not reformulated) must end the loop."""
    await run_calls(ctx, caller, state, completion, calls, budget_block, rails.reminder(state.question))
    stuck = state.repeated and rails.repeat.on_repeat != "withhold"
    return not stuck or await reformulate(ctx, caller, state, rails, budget_block)


def _tripped(ctx: RunContext, reason: str, count: TokenCount) -> tuple[str, str]:
    """The limit that calls for the final answer, and the words that say why."""
    error = ctx.ledger.exceeded()
    limit = error.limit_name if error else (limit_of(reason) or closest_limit(ctx.ledger.view()))
    detail = reason.removeprefix("Your ").rstrip(".")
    if count.tokens and "token" in reason:
        detail += f" (the next prompt alone is {count.tokens:,} tokens)"
    return limit, detail


async def _settle(
    ctx: RunContext,
    state: LoopState,
    completion: Completion,
    answer: str | None,
    errors: tuple[str, ...],
    on_answer: AnswerHook | None,
    rails: Rails,
) -> tuple[_Verdict, str]:
    """What a reply without tool calls leads to: another step ("continue": a format nudge, or the
    strategy's hook sent the agent back to work), one more answer call ("ask_again", with the reason:
    it abstained with evidence in view), or the answer ("accept", with the answer)."""
    if answer is None:
        answer = _handle_miss(ctx, state, completion, errors)
        state.idle += 1
    if answer is None:
        return "continue", ""
    state.messages.append(Message("assistant", completion.text))
    if is_abstention(answer) and not ctx.config.abstain and state.tool_message_indices:
        return "ask_again", "You answered None, but the question has an answer."
    echo = rails.echo
    if echo is not None and state.echoes < echo.refusals and echo.echoes(state.question, answer):
        state.echoes += 1
        nudge: str | None = echo.nudge(answer)
    else:
        nudge = await on_answer(answer) if on_answer is not None else None
    if nudge is not None:
        state.best = answer
        state.messages.append(Message("user", nudge))
        return "continue", ""
    return "accept", answer


async def _model_step(
    ctx: RunContext, caller: ModelCaller, state: LoopState, request: ChatRequest, count: TokenCount
) -> Completion:
    """One agent step through the thinking dial (when set): server-side switches or budget forcing."""
    step = len(state.steps)
    if ctx.config.thinking is None:
        return await caller(request, step=step, count=count)
    if state.thinking is None:
        state.thinking = await choose_mode(ctx.config.thinking, caller, state.question, step=step)
    mode = dial_for_budget(state.thinking, ctx.ledger.view())
    return await dialled_call(caller, request, ctx.backend.profile, mode, step=step, count=count)
