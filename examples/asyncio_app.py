"""Embedding thrifty in a plain asyncio app: several questions at once, each under its own budget.

Run: python examples/asyncio_app.py
Uses the embedded CPU model (or the server in THRIFTY_BASE_URL) and the offline web. Prints one
JSON line per question: answer, stop reason and what it cost.
"""

from __future__ import annotations

import asyncio
import json

from thrifty import Agent, BackendConfig, open_backend
from thrifty.search.offline import open_default_index
from thrifty.tools.web import BrowseTool, SearchTool

QUESTIONS = ["What is the capital of Australia?", "Which country has Lima as its capital?"]


async def main() -> None:
    index = open_default_index()
    async with open_backend(BackendConfig()) as backend:
        agent = Agent(
            backend,
            tools=[SearchTool(index), BrowseTool(index)],
            strategy="tracker",
            limits="search=2,browse=2,tokens=20000,seconds=300",
        )
        # One agent serves concurrent runs: each run gets its own ledger.
        results = await asyncio.gather(*(agent.run(q) for q in QUESTIONS))
    for r in results:
        print(
            json.dumps(
                {
                    "question": r.question,
                    "answer": r.answer,
                    "stop_reason": r.stop_reason,
                    "tokens": r.usage.total_tokens,
                    "tool_units": dict(r.usage.tool_units),
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
