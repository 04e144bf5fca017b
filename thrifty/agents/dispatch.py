"""Tool dispatch for the loop: one step's calls run concurrently, each charged at dispatch, every
failure an observation (never an exception), a repeated call refused and not re-paid."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from thrifty.agents.calls import ModelCaller
from thrifty.agents.context import LoopState, RunContext
from thrifty.agents.events import BudgetCharged, ToolCalled
from thrifty.agents.prompts import render_prompt
from thrifty.agents.prompts.budget import render_budget_block
from thrifty.agents.result import TrajectoryStep
from thrifty.backends.base import Completion, Message, ToolCall
from thrifty.budget import BudgetExceeded
from thrifty.errors import ToolError
from thrifty.tools.base import Tool, ToolContext, ToolResult
from thrifty.tools.typed import check_arguments


def _call_key(call: ToolCall) -> str:
    return json.dumps([call.name, call.arguments], sort_keys=True, default=str)


def _placeholders(arguments: Mapping[str, Any]) -> bool:
    """Whether a call copied the tool listing's ``"..."`` example values instead of real ones."""
    values = [v for value in arguments.values() for v in (value if isinstance(value, list) else [value])]
    return any(isinstance(v, str) and v.strip() in ("...", "…") for v in values)


def _admit(ctx: RunContext, state: LoopState, call: ToolCall, record: dict[str, Any]) -> Tool:
    """The tool that may run this call; a :class:`ToolError` (the model's to read, nothing charged) if
    the call is malformed, a repeat, for an unknown tool, or copied the listing's placeholders."""
    if call.error:
        raise ToolError(f"{call.name}: {call.error}")
    if (earlier := state.calls_made.get(_call_key(call))) is not None:
        record["repeat"] = True
        browse = " (for example, browse a URL from the results)" if "browse" in ctx.tools.names else ""
        raise ToolError(
            f"you already made this exact call in step {earlier + 1}; its response is above. "
            f"Use it to answer, or make a different call{browse}. This repeat was not run and cost nothing"
        )
    tool = ctx.tools.get(call.name)
    if tool is None:
        raise ToolError(f"unknown tool {call.name!r}; available tools: {', '.join(ctx.tools.names)}")
    check_arguments(tool, call.arguments)
    if _placeholders(call.arguments):
        raise ToolError(
            "'...' is the example's placeholder: write the real value (your query, the URL). "
            "This call was not run and cost nothing"
        )
    return tool


def _charge(ctx: RunContext, state: LoopState, call: ToolCall, requested: int, step: int) -> int:
    """Charge the call at dispatch, whatever its outcome; the units the budget granted (maybe fewer)."""
    try:
        entry = ctx.ledger.spend_tool(call.name, requested)
    except BudgetExceeded as exc:
        raise ToolError(f"the {call.name} budget is exhausted ({exc.limit_name}); use another tool or answer") from None
    state.calls_made[_call_key(call)] = step
    ctx.emit(BudgetCharged(entry, ctx.ledger.view()))
    return entry.usage.tool(call.name)


async def _execute(
    ctx: RunContext, caller: ModelCaller, tool: Tool, call: ToolCall, args: Mapping[str, Any], step: int
) -> ToolResult:
    """Run the tool within its timeout and the run's deadline; the deadline running out is the budget's
    ``seconds`` limit (raised), a tool's own timeout is an observation."""
    tool_ctx = ToolContext(lambda req: caller(req, step=step, purpose=f"tool:{call.name}"), render_prompt)
    deadline = ctx.ledger.deadline()
    try:
        return await deadline.wait(tool.run(args, tool_ctx), ctx.config.tool_timeout_seconds)
    except TimeoutError:
        if deadline.expired:
            raise ctx.ledger.out_of_time() from None
        raise


async def run_tool(ctx: RunContext, caller: ModelCaller, call: ToolCall, step: int, state: LoopState) -> dict[str, Any]:
    """Dispatch one call; every failure becomes an error observation, never an exception."""
    record: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": dict(call.arguments), "units": 0}
    requested = granted = 0
    started = ctx.ledger.clock.now()
    try:
        tool = _admit(ctx, state, call, record)
        requested = tool.units(call.arguments)
        granted = record["units"] = _charge(ctx, state, call, requested, step)
        args = call.arguments if granted >= requested else tool.limit_units(call.arguments, granted)
        result = await _execute(ctx, caller, tool, call, args, step)
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


def observations(
    ctx: RunContext,
    state: LoopState,
    completion: Completion,
    calls: tuple[ToolCall, ...],
    records: list[dict[str, Any]],
    budget_block: bool,
    reminder: str = "",
) -> None:
    """Append the assistant turn and the tool responses (plus the ``<budget>`` block and a reminder
    of the question, when given) to the history."""
    status = ("\n" + render_budget_block(ctx.ledger.view()) if budget_block else "") + reminder
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


def record_step(state: LoopState, completion: Completion, records: list[dict[str, Any]], final: bool) -> None:
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


async def run_calls(
    ctx: RunContext,
    caller: ModelCaller,
    state: LoopState,
    completion: Completion,
    calls: tuple[ToolCall, ...],
    budget_block: bool,
    reminder: str = "",
) -> list[dict[str, Any]]:
    """Run one step's tool calls concurrently and put their responses in the history."""
    step = len(state.steps)
    records = list(await asyncio.gather(*(run_tool(ctx, caller, c, step, state) for c in calls)))
    observations(ctx, state, completion, calls, records, budget_block, reminder)
    state.idle = 0 if any(r["units"] for r in records) else state.idle + 1
    state.repeated = any(r.get("repeat") for r in records)
    state.withheld = frozenset(r["name"] for r in records if r.get("repeat"))
    record_step(state, completion, records, final=False)
    return records
