"""Real eval logs and traces for the viewer tests: ``run_eval`` and ``Agent`` on a scripted model
with the calculator tool (JSON protocol), so every record is what thrifty really writes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from thrifty.agents.agent import Agent
from thrifty.backends import ScriptedBackend
from thrifty.backends.base import ChatRequest
from thrifty.budget import Limits
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task
from thrifty.tools.calculator import CalculatorTool
from thrifty.traces import TraceWriter

QUESTIONS = [("q1", "What is 17.5 * 23?", "402.5"), ("q2", "What is 6 * 7?", "42"), ("q3", "What is 2 ** 10?", "1024")]


def _step(evidence: str, **rest: object) -> str:
    return json.dumps({"evidence": evidence, **rest})


def responder(wrong: set[str], model: str = "scripted") -> ScriptedBackend:
    """A model that calls the calculator once, then answers (wrongly for the questions in ``wrong``)."""

    def reply(request: ChatRequest) -> str:
        question = next(str(m.content) for m in request.messages if m.role == "user")
        task = next(t for t in QUESTIONS if t[1] in question)
        if not any(task[2] in str(m.content) for m in request.messages if m.role != "system"):
            expression = task[1].removeprefix("What is ").removesuffix("?")
            return _step("I need to compute it.", tool="calculator", arguments={"expression": expression})
        answer = "0" if task[0] in wrong else task[2]
        return _step(f"The calculator returned {task[2]}.", answer=answer)

    return ScriptedBackend([reply] * 200, model=model, tool_protocol="json")


def make_log(path: Path, *, wrong: frozenset[str] = frozenset({"q3"}), model: str = "scripted") -> Path:
    tasks = [Task(i, q, a, (), "math", "easy", (), {}) for i, q, a in QUESTIONS]
    conditions = [
        Condition(s, str(b), Limits(total_tokens=20000, tools={"calculator": b}))
        for s in ("react", "tracker")
        for b in (1, 3)
    ]
    backend = responder(set(wrong), model)
    asyncio.run(
        run_eval(
            tasks,
            conditions,
            backends=[backend],
            tools=[CalculatorTool()],
            log_path=path,
            concurrency=1,
            tasks_file="math.jsonl",
        )
    )
    return path


def make_trace(path: Path, *, tool_error: bool = False) -> Path:
    expression = "1/0" if tool_error else "17.5*23"
    steps = [
        _step("I need to compute it.", tool="calculator", arguments={"expression": expression}),
        _step("The calculator says 402.5", answer="402.5"),
    ]
    agent = Agent(
        ScriptedBackend(steps, tool_protocol="json"), tools=[CalculatorTool()], limits="calculator=3,tokens=20000"
    )
    asyncio.run(agent.run("What is 17.5 * 23?", on_event=TraceWriter(path)))
    return path
