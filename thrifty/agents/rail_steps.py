"""The steps the small-model rails (:mod:`thrifty.agents.rails`) add to the loop: the opening search,
the reformulated search after a repeat, the hops of a split question, the options of a choice
question, and the short-answer pass. Each
is a charged call or a charged tool step; a rail that cannot be paid for is skipped, never forced."""

from __future__ import annotations

import json

from thrifty.agents.calls import ModelCaller
from thrifty.agents.choice import Compare, decide
from thrifty.agents.context import LoopState, RunContext
from thrifty.agents.dispatch import record_step, run_calls
from thrifty.agents.events import StepStarted
from thrifty.agents.protocol import parse_json_reply
from thrifty.agents.rails import Decompose, Rails
from thrifty.backends.base import ChatRequest, Completion, ToolCall
from thrifty.budget import BudgetExceeded, Usage
from thrifty.errors import BackendError


async def reformulate(ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, budget_block: bool) -> bool:
    """The reformulation rail: a repeated search gets a new query from one charged call, then runs.

    False when it does not apply (another policy, no repeated search, none left, no budget, or no new
    query came back): the caller then answers from the evidence so far.
    """
    policy = rails.repeat
    repeated = [c for c in state.steps[-1].tool_calls if c.get("repeat") and c["name"] == "search"]
    if policy.on_repeat != "reformulate" or not repeated or state.reformulations >= policy.reformulations:
        return False
    if ctx.ledger.view().tool_remaining("search") == 0:
        return False
    made = [c for st in state.steps for c in st.tool_calls if c["name"] == "search" and not c.get("repeat")]
    queries = [q for c in made for q in c["arguments"].get("query", [])]
    found = " ".join(t for st in state.steps if (t := _evidence(ctx, st.text)))
    state.reformulations += 1
    try:
        reply = await caller(
            policy.request(state.question, found, queries), step=len(state.steps), purpose="reformulate"
        )
    except (BudgetExceeded, BackendError):
        return False
    query = policy.parse(reply.text, queries)
    if query is None:
        return False
    args = {"query": [query]}
    call = ToolCall(f"call_reformulated_{state.reformulations}", "search", args, raw_arguments=json.dumps(args))
    await run_synthetic(ctx, caller, state, rails, call, found[:300], budget_block)
    return True


def _evidence(ctx: RunContext, text: str) -> str:
    """The ``evidence`` a JSON-protocol step wrote (empty for other protocols)."""
    return parse_json_reply(text).thought.strip() if ctx.backend.tool_protocol == "json" and text else ""


async def opening_search(
    ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, budget_block: bool, query: str = ""
) -> bool:
    """The opening-search rail: search ``query`` (the question by default) before the model's next
    step, as a recorded step. False when it could not be made (no rail, no search tool, no units)."""
    rail = rails.opening_search
    if rail is None:
        return False
    remaining = ctx.ledger.view().tool_remaining(rail.tool)
    call = rail.call(query or state.question, ctx.tools.names, remaining=remaining, tag=len(state.steps))
    if call is not None:
        await run_synthetic(ctx, caller, state, rails, call, "", budget_block)
    return call is not None


async def run_synthetic(
    ctx: RunContext,
    caller: ModelCaller,
    state: LoopState,
    rails: Rails,
    call: ToolCall,
    evidence: str,
    budget_block: bool,
) -> None:
    """Run a call the controller makes for the model, written in the model's own step format so the
    history reads as if the model had made it (small models copy the format they see)."""
    ctx.emit(StepStarted(len(state.steps), final=False))
    if ctx.backend.tool_protocol == "json":
        text = json.dumps({"evidence": evidence, "tool": call.name, "arguments": dict(call.arguments)})
    elif ctx.backend.tool_protocol == "text":
        text = f"<tool_code>{json.dumps({'name': call.name, 'arguments': dict(call.arguments)})}</tool_code>"
    else:
        text = ""
    step = Completion(text, ctx.backend.model, Usage(), finish_reason="tool_calls", tool_calls=(call,))
    await run_calls(ctx, caller, state, step, (call,), budget_block, rails.reminder(state.question))


async def search_and_read(
    ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, budget_block: bool
) -> str | None:
    """The opening search, then the read-first call (a split question: each part searched and read in
    turn; a choice question: each option searched and read, then compared): the (shortened) answer
    when the results state it, or None for the loop to go on (an opening search already made by a
    rail is not made again)."""
    searched = len(state.steps)
    read = await compare_options(ctx, caller, state, rails, budget_block)
    if read is None and len(state.steps) == searched:
        read = await read_hops(ctx, caller, state, rails, budget_block)
        if read is None:
            await opening_search(ctx, caller, state, rails, budget_block)
            read = await read_first(ctx, caller, state, rails)
    return None if read is None else await shorten(ctx, caller, state, rails, read)


async def read_hops(
    ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, budget_block: bool
) -> str | None:
    """The decomposition rail: while the question is split, find the name its first part asks for
    (search it, read it) and put it into the rest; then search and read what is left. None when the
    question is not split or a part is not found (the usual opening search then runs)."""
    rail, opening = rails.decompose, rails.opening_search
    if rail is None or opening is None or opening.tool not in ctx.tools.names:
        return None
    question, hops = state.question, 0
    while rail.applies(question) and hops < rail.max_hops and _searches_left(ctx, opening.tool) >= 2:
        split = await _split(ctx, caller, state, rail, question)
        if split is None:
            break
        found = await _search_read(ctx, caller, state, rails, split[0], budget_block, final=False)
        if found is None:
            return None
        question, hops = rail.substitute(split[1], found), hops + 1
    if hops == 0:
        return None
    return await _search_read(ctx, caller, state, rails, question, budget_block, final=True)


def _searches_left(ctx: RunContext, tool: str) -> float:
    """Search units left; a split is made only when there is one for each of its two parts."""
    remaining = ctx.ledger.view().tool_remaining(tool)
    return float("inf") if remaining is None else remaining


async def _split(
    ctx: RunContext, caller: ModelCaller, state: LoopState, rail: Decompose, question: str
) -> tuple[str, str] | None:
    completion = await _ask(ctx, caller, state, rail.request(question, json_protocol=_json(ctx)), "decompose")
    return None if completion is None else rail.parse(completion.text, question)


def _json(ctx: RunContext) -> bool:
    return ctx.backend.tool_protocol == "json"


async def _ask(
    ctx: RunContext, caller: ModelCaller, state: LoopState, request: ChatRequest, purpose: str
) -> Completion | None:
    """One charged rail call; None when it cannot be paid for or the server fails (the rail is skipped)."""
    try:
        return await caller(request, step=len(state.steps), purpose=purpose)
    except (BudgetExceeded, BackendError):
        return None


async def compare_options(
    ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, budget_block: bool
) -> str | None:
    """The comparison rail: split a choice question into its two options and the question about each,
    search and read each, then choose (:func:`~thrifty.agents.choice.decide`, or one charged call).
    With a single search unit left, one search of the whole question is read once per option (the
    question names both, and its results hold both pages). None when it does not apply, cannot be
    paid for, or a value is not found: the loop then goes on with what was read in view."""
    rail, opening = rails.compare, rails.opening_search
    if rail is None or opening is None or opening.tool not in ctx.tools.names or not rail.applies(state.question):
        return None
    if (units := _searches_left(ctx, opening.tool)) < 1:
        return None
    completion = await _ask(ctx, caller, state, rail.request(state.question, json_protocol=_json(ctx)), "compare")
    split = None if completion is None else rail.parse(completion.text, state.question)
    if split is None:
        return None
    options, ask = (split[0], split[1]), split[2]
    shared = units < 2
    if shared and not await opening_search(ctx, caller, state, rails, budget_block):
        return None
    values: list[str] = []
    for option in options:
        asked = rail.ask_about(ask, option)
        if shared:
            value = await read_first(ctx, caller, state, rails, question=asked, final=False)
        else:
            value = await _search_read(ctx, caller, state, rails, asked, budget_block, final=False)
        if value is None:
            return None
        values.append(value)
    return await _choose(ctx, caller, state, rail, options, ask, (values[0], values[1]))


async def _choose(
    ctx: RunContext,
    caller: ModelCaller,
    state: LoopState,
    rail: Compare,
    options: tuple[str, str],
    ask: str,
    values: tuple[str, str],
) -> str | None:
    """The option that wins: compared in code when both values allow it, else by one charged call
    that sees only the two facts."""
    winner = decide(state.question, ask, values)
    if winner is not None:
        return options[winner]
    facts = "\n".join(f"- {rail.ask_about(ask, o)} {v}" for o, v in zip(options, values, strict=True))
    request = rail.choose_request(state.question, facts, json_protocol=_json(ctx))
    completion = await _ask(ctx, caller, state, request, "compare_choose")
    choice = None if completion is None else rail.parse_choice(completion.text, options)
    if completion is not None and choice is not None:
        record_step(state, completion, [], final=True)
    return choice


async def _search_read(
    ctx: RunContext,
    caller: ModelCaller,
    state: LoopState,
    rails: Rails,
    question: str,
    budget_block: bool,
    *,
    final: bool,
) -> str | None:
    if not await opening_search(ctx, caller, state, rails, budget_block, query=question):
        return None
    return await read_first(ctx, caller, state, rails, question=question, final=final)


async def read_first(
    ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, *, question: str = "", final: bool = True
) -> str | None:
    """The read-first rail: the answer to ``question`` (the run's by default) stated by the last
    search's results (read again for each option of a choice), or None to go on. The reading is
    recorded as a step, final when it answers the run's question."""
    rail, question = rails.read_first, question or state.question
    if rail is None or not state.steps or not rail.applies(question):
        return None
    searched = next((st for st in reversed(state.steps) if st.tool_calls), None)
    results = "" if searched is None else "\n\n".join(str(c.get("output", "")) for c in searched.tool_calls)
    if not results.strip():
        return None
    json_protocol = ctx.backend.tool_protocol == "json"
    completion = await _read(caller, state, rail.request(question, results, json_protocol=json_protocol))
    echoed = None if completion is None else rail.echoed(completion.text, question)
    if echoed:  # it only repeated a name the question states: read once more without it
        request = rail.request(question, results, json_protocol=json_protocol, exclude=echoed)
        completion = await _read(caller, state, request)
    answer = None if completion is None else rail.parse(completion.text, question)
    if completion is not None and answer is not None:
        record_step(state, completion, [], final=final)
    return answer


async def _read(caller: ModelCaller, state: LoopState, request: ChatRequest) -> Completion | None:
    """One charged reading call, or None when the budget or the server refuses it."""
    try:
        return await caller(request, step=len(state.steps), purpose="read_first")
    except (BudgetExceeded, BackendError):
        return None


async def shorten(ctx: RunContext, caller: ModelCaller, state: LoopState, rails: Rails, answer: str) -> str:
    """The short-answer rail: one charged call cuts a long answer down to the fact it names."""
    rail = rails.short_answer
    if rail is None or not rail.needs(answer):
        return answer
    request = rail.request(state.question, answer, json_protocol=ctx.backend.tool_protocol == "json")
    try:
        completion = await caller(request, step=len(state.steps), purpose="short_answer")
    except (BudgetExceeded, BackendError):
        return answer
    return rail.parse(completion.text, answer, state.question)
