"""LangGraph adapter: a thrifty agent as a LangGraph node or a compiled graph.

LangGraph types stay in this module (``pip install 'thrifty[langgraph]'``).

Pause and resume. When the run has spent ``approve_at`` of any limited resource (tool units,
tokens, requests, dollars; not wall-clock, which a resumed run cannot repeat), the node calls
LangGraph's ``interrupt()`` with a budget summary. The graph stops there and its checkpointer (e.g.
``AsyncSqliteSaver``) keeps the thread, so another process may resume it later with
``Command(resume=True)`` (go on) or ``Command(resume=False)`` (stop now with the best answer so far,
``stop_reason="cancelled"``).

LangGraph resumes an interrupted node by running it again from its start. Every model and tool
call of the node goes through a record/replay cache (:mod:`thrifty.replay`) kept per thread and
node run, so the re-run replays what was already paid for — same answers, same ledger charges —
and only the calls after the interrupt reach the model and the tools.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from thrifty.agents.agent import Agent
from thrifty.budget import BudgetView
from thrifty.errors import ConfigError
from thrifty.paths import cache_dir
from thrifty.replay import RecordingBackend, ReplayCache, recording_tools


class ThriftyState(TypedDict, total=False):
    """The graph state: the question in; the answer, stop reason and full result out."""

    question: str
    answer: str | None
    stop_reason: str
    result: dict[str, Any]


def spent_fraction(view: BudgetView) -> float:
    """The largest fraction spent of any limited resource, wall-clock excepted (see the module doc)."""
    fractions = [1.0 - f for name, f in view.resource_fractions().items() if name != "seconds"]
    for tool, limit in view.limits.tools.items():
        if limit:
            fractions.append(view.used.tool(tool) / limit)
    return max(fractions, default=0.0)


def _approval_gate(approve_at: float | None) -> Callable[[BudgetView], Awaitable[bool]] | None:
    if approve_at is None:
        return None
    asked = False
    approved = True

    async def gate(view: BudgetView) -> bool:
        nonlocal asked, approved
        if not asked and spent_fraction(view) >= approve_at:
            asked = True
            decision = interrupt(
                {
                    "reason": f"the run has spent {spent_fraction(view):.0%} of its budget",
                    "used": view.used.to_dict(),
                    "remaining_tools": dict(view.remaining_tools),
                    "resume": "Command(resume=True) to continue, Command(resume=False) to stop",
                }
            )
            approved = bool(decision)
        return approved

    return gate


def _cache_name(config: RunnableConfig | None) -> str:
    """One replay cache per thread *and* node run: LangGraph's ``checkpoint_ns`` for a task stays the
    same when an interrupted task resumes, and changes for a new invocation, so asking the same
    question again later runs it afresh instead of replaying the earlier answer."""
    configurable = (config or {}).get("configurable") or {}
    thread = configurable.get("thread_id")
    if not thread:
        raise ConfigError("thread_id", "the thrifty node needs config={'configurable': {'thread_id': ...}}")
    task = configurable.get("checkpoint_ns") or ""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{thread}-{task}")


def thrifty_node(
    agent: Agent, *, approve_at: float | None = None, replay_dir: Path | None = None
) -> Callable[[ThriftyState, RunnableConfig], Awaitable[ThriftyState]]:
    """An async LangGraph node that answers ``state["question"]`` with ``agent``.

    ``approve_at`` (0–1) asks for human approval once that fraction of the budget is spent.
    ``replay_dir`` holds the per-thread call caches (default: thrifty's cache folder).
    """
    if approve_at is not None and not 0.0 <= approve_at <= 1.0:
        raise ConfigError("approve_at", f"must be between 0 and 1, got {approve_at}")
    folder = replay_dir or cache_dir() / "langgraph"

    async def node(state: ThriftyState, config: RunnableConfig) -> ThriftyState:
        question = state.get("question")
        if not question:
            raise ConfigError("question", "the graph state has no question")
        cache = ReplayCache(folder / f"{_cache_name(config)}.sqlite", "auto")
        try:
            replaying = Agent(
                RecordingBackend(agent.backend, cache),
                tools=recording_tools(agent.tools, cache),
                strategy=agent.strategy,
                limits=agent.limits,
                prices=agent.prices,
                config=agent.config,
                clock=agent.clock,
                observers=agent.observers,
            )
            result = await replaying.run(question, before_step=_approval_gate(approve_at))
        finally:
            cache.close()
        return {"answer": result.answer, "stop_reason": result.stop_reason, "result": result.to_dict()}

    return node


def build_graph(
    agent: Agent, *, approve_at: float | None = None, checkpointer: Any = None, replay_dir: Path | None = None
) -> Any:
    """A compiled graph START → thrifty → END. Compose bigger graphs from :func:`thrifty_node`."""
    builder = StateGraph(ThriftyState)
    node: Any = thrifty_node(agent, approve_at=approve_at, replay_dir=replay_dir)
    builder.add_node("thrifty", node)
    builder.add_edge(START, "thrifty")
    builder.add_edge("thrifty", END)
    return builder.compile(checkpointer=checkpointer)
