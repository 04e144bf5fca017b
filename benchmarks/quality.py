"""Quality benchmark: does tool use pay off? The agent against closed book, oracle context and a naive
retrieve-then-read pipeline, on verified questions over the offline corpus, all through thrifty's code.

Conditions (``--conditions``, comma-separated):
- ``closed``: the model alone, one call.
- ``oracle``: the gold page(s) pasted (a 3,000-character window around each supporting quote), one call.
- ``naive``: one search with the question text, the top 3 pages pasted (2,500 characters each), one call.
- ``agent``: the agent exactly as ``thrifty ask`` runs it by default (strategy, budget, tools, rails).
- ``STRATEGY@B``: that strategy with ``search=B,browse=B`` (plus ``--extra``), e.g. ``react@3``.
- ``recall``: retrieval only (no model): recall@1/5/10 of a gold page for the question text.

Every model call goes through the ledger (requests, tokens and seconds are the ledger's). The log is
JSONL, one line per (model, condition, question), resumable: rerun the same command to continue.

Run:  python benchmarks/quality.py --conditions recall,closed,oracle,naive,agent --per-type 15
      python benchmarks/quality.py --report            # the tables from the log, Markdown
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from thrifty.agents.agent import Agent
from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import ignore_events
from thrifty.agents.rails import SMALL_MODEL_RAILS
from thrifty.backends.base import Backend, ChatRequest, Message
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.budget import Ledger, parse_budget_spec
from thrifty.defaults import DEFAULT_BUDGET
from thrifty.evals.report import wilson_interval
from thrifty.evals.scorers import alias_match, normalize_answer
from thrifty.search.index import CorpusIndex
from thrifty.search.offline import open_default_index
from thrifty.search.ranking import entity_aliases
from thrifty.tools.web import BrowseTool, SearchTool

HERE = Path(__file__).parent
QUESTIONS = HERE / "quality" / "questions.jsonl"
LOG = HERE / "quality-log.jsonl"
TYPES = ("single-hop", "two-hop", "comparison", "number")
ONE_CALL = "Answer the question with only the answer: a name, number or date, no other words."


def load_questions(path: Path, per_type: int | None) -> list[dict[str, Any]]:
    """All questions, or the first ``per_type`` of each type (a stratified, deterministic sample)."""
    questions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if per_type is None:
        return questions
    seen: dict[str, int] = defaultdict(int)
    chosen = []
    for q in questions:
        if seen[q["type"]] < per_type:
            seen[q["type"]] += 1
            chosen.append(q)
    return chosen


def window(text: str, quote: str, size: int) -> str:
    """``size`` characters of ``text`` around ``quote`` (the page start when the quote is early or absent)."""
    flat = " ".join(text.split())
    at = flat.find(" ".join(quote.split()))
    start = 0 if at < size // 2 else at - size // 2
    return flat[start : start + size]


def oracle_context(index: CorpusIndex, q: dict[str, Any]) -> str:
    parts = []
    for url in q["gold_urls"]:
        page = index.fetch_sync(url)
        if page is None:
            continue
        quote = next((x for x in q.get("quotes", []) if " ".join(x.split()) in " ".join(page.text.split())), "")
        parts.append(f"# {page.title}\n{window(page.text, quote, 3000)}")
    return "\n\n".join(parts)


def naive_context(index: CorpusIndex, question: str) -> str:
    pages = [index.fetch_sync(r.url) for r in index.search_sync(question, k=3)]
    return "\n\n".join(f"# {p.title}\n{p.text[:2500]}" for p in pages if p is not None)


async def one_call(backend: Backend, question: str, context: str | None) -> dict[str, Any]:
    """One charged call: the question, with pasted context or none."""
    ledger = Ledger(parse_budget_spec("tokens=20000"))
    caller = ModelCaller(backend, ledger, ignore_events)
    body = f"Context:\n{context}\n\nQuestion: {question}" if context else f"Question: {question}"
    request = ChatRequest(
        messages=(Message("system", ONE_CALL), Message("user", body)), max_tokens=64, temperature=0.0, seed=0
    )
    completion = await caller(request, step=0, purpose="benchmark")
    used = ledger.used
    return {
        "answer": completion.text.strip(),
        "requests": used.requests,
        "tokens": used.total_tokens,
        "tool_units": 0,
        "seconds": ledger.elapsed(),
        "stop_reason": "answered",
        "queries": [],
    }


async def agent_run(agent: Agent, question: str, limits: str | None) -> dict[str, Any]:
    result = await agent.run(question, limits=limits)
    queries = [q for s in result.steps for c in s.tool_calls if c["name"] == "search" for q in c["arguments"]["query"]]
    used = result.usage
    return {
        "answer": result.answer,
        "requests": used.requests,
        "tokens": used.total_tokens,
        "tool_units": used.tool_calls,
        "seconds": result.seconds,
        "stop_reason": result.stop_reason,
        "queries": queries,
    }


def recall_row(index: CorpusIndex, q: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    urls = [r.url for r in index.search_sync(q["question"], k=10)]
    hits = {str(k): any(u in q["gold_urls"] for u in urls[:k]) for k in (1, 5, 10)}
    return {
        "answer": None,
        "recall": hits,
        "seconds": time.perf_counter() - started,
        "requests": 0,
        "tokens": 0,
        "tool_units": 0,
        "stop_reason": "retrieval",
        "queries": [q["question"]],
    }


async def run_condition(
    condition: str, q: dict[str, Any], backend: Backend, index: CorpusIndex, tools: list[Any], extra: str
) -> dict[str, Any]:
    if condition == "closed":
        return await one_call(backend, q["question"], None)
    if condition == "oracle":
        return await one_call(backend, q["question"], oracle_context(index, q))
    if condition == "naive":
        return await one_call(backend, q["question"], naive_context(index, q["question"]))
    if condition == "agent":
        return await agent_run(Agent(backend, tools=tools, config=LoopConfig(seed=0)), q["question"], DEFAULT_BUDGET)
    if condition == "agent-noread":  # the ablation of the read-first rail
        config = LoopConfig(seed=0, rails=replace(SMALL_MODEL_RAILS, read_first=None))
        return await agent_run(Agent(backend, tools=tools, config=config), q["question"], DEFAULT_BUDGET)
    strategy, _, budget = condition.partition("@")
    limits = f"search={budget},browse={budget}" + (f",{extra}" if extra else "")
    agent = Agent(backend, tools=tools, strategy=strategy, config=LoopConfig(seed=0))
    return await agent_run(agent, q["question"], limits)


def done_keys(log: Path) -> set[tuple[str, str, str]]:
    if not log.is_file():
        return set()
    rows = (json.loads(line) for line in log.read_text().splitlines() if line.strip())
    return {(r["model"], r["condition"], r["id"]) for r in rows}


async def run(args: argparse.Namespace) -> None:
    questions = load_questions(args.questions, args.per_type)
    if args.ids:
        questions = [q for q in questions if q["id"] in args.ids.split(",")]
    conditions = args.conditions.split(",")
    index = open_default_index()
    done = done_keys(args.log)
    model_name = args.model or "default"
    with args.log.open("a", encoding="utf-8") as log:
        if "recall" in conditions:
            for q in questions:
                if ("retrieval", "recall", q["id"]) not in done:
                    write(log, "retrieval", "recall", q, recall_row(index, q))
        model_conditions = [c for c in conditions if c != "recall"]
        if not model_conditions:
            return
        config = BackendConfig(base_url=args.base_url, model=args.model, embedded_parallel=2)
        async with open_backend(config) as backend:
            tools = [SearchTool(index), BrowseTool(index)]
            slots = asyncio.Semaphore(args.concurrency)

            async def one(condition: str, q: dict[str, Any]) -> None:
                async with slots:
                    row = await run_condition(condition, q, backend, index, tools, args.extra)
                write(log, backend.model, condition, q, row)
                print(
                    f"{model_name} {condition} {q['id']} {q['type']}: {row['correct']} "
                    f"{row['answer']!r} ({row['seconds']:.1f}s)",
                    flush=True,
                )

            for condition in model_conditions:
                todo = [q for q in questions if (backend.model, condition, q["id"]) not in done]
                await asyncio.gather(*(one(condition, q) for q in todo))


def distractors(index: CorpusIndex, q: dict[str, Any]) -> list[str]:
    """For a comparison, the names of the option that is not the answer (from its gold page's title)."""
    if q["type"] != "comparison":
        return []
    gold = [normalize_answer(a) for a in (q["answer"], *q.get("aliases", []))]
    names = []
    for url in q["gold_urls"]:
        page = index.fetch_sync(url)
        keys = [normalize_answer(k) for k, _ in entity_aliases(page.title)] if page else []
        if keys and not any(k in g or g in k for k in keys for g in gold):
            names.extend(keys)
    return names


def is_correct(index: CorpusIndex, q: dict[str, Any], answer: str | None) -> bool:
    """Alias match (thrifty's offline scorer); a comparison answer that also names the other option is wrong."""
    if not alias_match(answer, [q["answer"], *q.get("aliases", [])]):
        return False
    padded = f" {normalize_answer(answer or '')} "
    return not any(f" {name} " in padded for name in distractors(index, q))


def write(log: Any, model: str, condition: str, q: dict[str, Any], row: dict[str, Any]) -> None:
    row.update(model=model, condition=condition, id=q["id"], type=q["type"], gold_urls=q["gold_urls"])
    if condition != "recall":
        row["correct"] = is_correct(open_default_index(), q, row["answer"])
    log.write(json.dumps(row) + "\n")
    log.flush()


def _median(values: Iterable[float]) -> float:
    vals = list(values)
    return statistics.median(vals) if vals else 0.0


def report(log: Path, index: CorpusIndex | None, questions_path: Path = QUESTIONS) -> str:
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if index is not None:  # score again: the log keeps answers, so a scorer fix applies to every row
        questions = {q["id"]: q for q in load_questions(questions_path, None)}
        for r in rows:
            if r["condition"] != "recall" and r["id"] in questions:
                r["correct"] = is_correct(index, questions[r["id"]], r["answer"])
    out = [
        f"Machine: {platform.machine()}, {platform.python_version()}; log: {log.name}; n per cell; "
        "acc with Wilson 95 % interval; medians of tool units, requests, tokens, seconds.",
        "",
    ]
    out += [
        "| model | condition | type | n | acc | 95 % CI | tool units | requests | tokens | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["condition"] == "recall":
            continue
        groups[(r["model"], r["condition"], r["type"])].append(r)
        groups[(r["model"], r["condition"], "all")].append(r)
    for (model, condition, qtype), rs in sorted(groups.items()):
        n, c = len(rs), sum(r["correct"] for r in rs)
        lo, hi = wilson_interval(c, n, z=1.96)  # the z its recorded tables used
        out.append(
            f"| {model} | {condition} | {qtype} | {n} | {c / n:.2f} | {lo:.2f}–{hi:.2f} | "
            f"{_median(r['tool_units'] for r in rs):g} | {_median(r['requests'] for r in rs):g} | "
            f"{_median(r['tokens'] for r in rs):.0f} | {_median(r['seconds'] for r in rs):.1f} |"
        )
    out += ["", recall_table(rows, index)]
    return "\n".join(out)


def recall_table(rows: list[dict[str, Any]], index: CorpusIndex | None) -> str:
    """Recall@k of a gold page: for the question text, and for the agent's own queries (any of them)."""
    lines = ["| queries | type | n | recall@1 | recall@5 | recall@10 |", "|---|---|---|---|---|---|"]
    text = defaultdict(list)
    for r in rows:
        if r["condition"] == "recall":
            text[r["type"]].append(r["recall"])
            text["all"].append(r["recall"])
    for qtype, hits in sorted(text.items()):
        n = len(hits)
        lines.append(
            f"| question text | {qtype} | {n} | "
            + " | ".join(f"{sum(h[str(k)] for h in hits) / n:.2f}" for k in (1, 5, 10))
            + " |"
        )
    if index is not None:
        own = defaultdict(list)
        for r in rows:
            if r["condition"] == "agent" and r.get("queries"):
                ranked = [[x.url for x in index.search_sync(q, k=10)] for q in r["queries"]]
                hit = {str(k): any(u in r["gold_urls"] for urls in ranked for u in urls[:k]) for k in (1, 5, 10)}
                own[(r["model"], r["type"])].append(hit)
                own[(r["model"], "all")].append(hit)
        for (model, qtype), hits in sorted(own.items()):
            n = len(hits)
            lines.append(
                f"| agent's own ({model}) | {qtype} | {n} | "
                + " | ".join(f"{sum(h[str(k)] for h in hits) / n:.2f}" for k in (1, 5, 10))
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--conditions", default="recall,closed,oracle,naive,agent")
    parser.add_argument("--per-type", type=int, help="the first N questions of each type (default: all)")
    parser.add_argument("--model", help="embedded model (default: the default; e.g. 0.5b), or the served model")
    parser.add_argument("--base-url", help="an OpenAI-compatible server instead of the embedded model")
    parser.add_argument("--ids", help="only these question ids, comma-separated")
    parser.add_argument("--extra", default="tokens=40000,seconds=600", help="limits added to STRATEGY@B runs")
    parser.add_argument("--log", type=Path, default=LOG)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="questions in flight at once (the embedded server has 2 slots)"
    )
    parser.add_argument("--report", action="store_true", help="print the tables from the log and exit")
    args = parser.parse_args()
    if not args.report:
        asyncio.run(run(args))
    print(report(args.log, open_default_index(), args.questions))


if __name__ == "__main__":
    main()
