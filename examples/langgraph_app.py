"""Embedding thrifty in a LangGraph app: the agent is one node of a bigger graph, checkpointed in
SQLite, and it asks for approval once half its budget is spent (this demo approves automatically).

Run: python examples/langgraph_app.py [checkpoints.sqlite]
Needs ``pip install 'thrifty[langgraph]'``. Uses the embedded CPU model (or THRIFTY_BASE_URL).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from thrifty import Agent, BackendConfig, open_backend
from thrifty.adapters.langgraph import ThriftyState, thrifty_node
from thrifty.search.offline import open_default_index
from thrifty.tools.web import BrowseTool, SearchTool


class AppState(ThriftyState, total=False):
    report: str


def report(state: AppState) -> dict[str, Any]:
    """A node of the app's own: turns the agent's result into a one-line report."""
    usage = state["result"]["usage"]
    return {
        "report": f"{state['answer']!r} ({state['stop_reason']}, {usage['input_tokens'] + usage['output_tokens']} "
        f"tokens, tools {usage['tool_units']})"
    }


async def main(db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    index = open_default_index()
    async with open_backend(BackendConfig()) as backend:
        agent = Agent(
            backend,
            tools=[SearchTool(index), BrowseTool(index)],
            strategy="tracker",
            limits="search=2,browse=2,tokens=12000,seconds=240",
        )
        builder = StateGraph(AppState)
        node: Any = thrifty_node(agent, approve_at=0.5, replay_dir=db.parent / "replay")
        builder.add_node("agent", node)
        builder.add_node("report", report)
        builder.add_edge(START, "agent")
        builder.add_edge("agent", "report")
        builder.add_edge("report", END)
        config: Any = {"configurable": {"thread_id": "demo"}}
        async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
            graph = builder.compile(checkpointer=saver)
            state = await graph.ainvoke({"question": "What is the capital of Peru?"}, config)
            approvals = 0
            while "__interrupt__" in state:  # a human would look at the request; the demo says yes
                print("approval requested:", state["__interrupt__"][0].value["reason"], file=sys.stderr)
                approvals += 1
                state = await graph.ainvoke(Command(resume=True), config)
    print(json.dumps({"report": state["report"], "stop_reason": state["stop_reason"], "approvals": approvals}))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "checkpoints.sqlite"
    asyncio.run(main(target))
