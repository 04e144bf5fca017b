"""thrifty vs the bare openai client against a real vLLM server: per-call overhead and eval throughput.

Both sides send the same requests to the same server (temperature 0, so the same tokens come back):

- overhead: K single requests, each sent once through thrifty (``ModelCaller``: the ``/tokenize``
  pre-count, the ledger's reservation and charge, events) and once through
  ``openai.AsyncOpenAI().chat.completions.create`` with thrifty's own request body; the order
  alternates per request so prefix caching favours neither side. Reported: median seconds per call
  and thrifty's extra milliseconds (of which the pre-count's).
- short requests: R one-line prompts (max_tokens 16) at each concurrency C, through thrifty's caller
  (one ledger, as an eval's calls go) and the same bodies through the bare client.
- eval throughput (``--samples N``, off by default: on a CPU server each react prompt's prefill
  takes minutes): N samples of ``react`` (JSON protocol, offline search/browse, short steps)
  through ``run_eval`` at each concurrency C; every request body thrifty sent is recorded, then
  replayed by the bare client at the same concurrency (one worker per sample, its calls in order).
  The recording pass warms vLLM's prefix cache, so thrifty's timed pass runs after the replay:
  both timed passes find the same prompts cached.

Run (needs vllm: the tier's venv, see scripts/vllm-tier.sh; the server holds the model lock):
    flock /tmp/thrifty-model.lock <vllm-venv>/bin/python -u benchmarks/vllm_real.py [--requests 24] [--concurrency 1,4]
``--base-url URL`` attaches to a running vLLM (e.g. ``scripts/vllm_serve.py``'s) instead of spawning one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import openai

from thrifty.agents.calls import ModelCaller
from thrifty.agents.controller import LoopConfig
from thrifty.agents.events import ignore_events
from thrifty.backends import ChatRequest, Message, OpenAICompatBackend
from thrifty.backends.base import Backend, BackendWrapper, Completion, TokenCount
from thrifty.backends.registry import BackendConfig, open_backend
from thrifty.budget import Ledger, Limits, parse_budget_spec
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import generate
from thrifty.search.index import CorpusIndex
from thrifty.search.offline import build_default_index
from thrifty.tools.base import Tool
from thrifty.tools.web import BrowseTool, SearchTool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.vllm.conftest import SERVER_ARGS, SERVER_ENV

QUESTIONS = ["Name the capital of France.", "What is 7 times 8?", "Spell 'cat' backwards.", "Name a primary colour."]


class Recording(BackendWrapper):
    """Delegates to a vLLM backend and keeps the wire body of every request, per sample."""

    def __init__(self, inner: OpenAICompatBackend) -> None:
        super().__init__(inner)
        self.backend = inner
        self.bodies: dict[str, list[dict[str, Any]]] = {}

    async def complete(self, request: ChatRequest) -> Completion:
        key = request.messages[1].content if len(request.messages) > 1 else request.messages[0].content
        self.bodies.setdefault(key, []).append(self.backend._kwargs(request))
        return await self.backend.complete(request)

    async def count_tokens(self, request: ChatRequest) -> TokenCount:
        return await self.backend.count_tokens(request)

    async def aclose(self) -> None:
        await self.backend.aclose()


async def _via_thrifty(backend: OpenAICompatBackend, request: ChatRequest, times: dict[str, list[float]]) -> None:
    caller = ModelCaller(backend, Ledger(Limits(total_tokens=10_000)), ignore_events)
    t = time.perf_counter()
    await backend.count_tokens(request)  # what the caller's pre-check costs, timed alone
    times["count"].append(time.perf_counter() - t)
    t = time.perf_counter()
    await caller(request, step=0)
    times["thrifty"].append(time.perf_counter() - t)


async def _via_bare(bare: openai.AsyncOpenAI, body: dict[str, Any], times: dict[str, list[float]]) -> None:
    t = time.perf_counter()
    await bare.chat.completions.create(**body)
    times["bare"].append(time.perf_counter() - t)


async def overhead(backend: OpenAICompatBackend, bare: openai.AsyncOpenAI, calls: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"thrifty": [], "bare": [], "count": []}
    for i in range(calls):
        request = ChatRequest(messages=(Message("user", QUESTIONS[i % len(QUESTIONS)]),), max_tokens=16, temperature=0)
        sides = [_via_thrifty(backend, request, times), _via_bare(bare, backend._kwargs(request), times)]
        for side in sides if i % 2 else sides[::-1]:
            await side
    med_t, med_b = statistics.median(times["thrifty"]), statistics.median(times["bare"])
    return {
        "thrifty_s": med_t,
        "bare_s": med_b,
        "extra_ms": (med_t - med_b) * 1e3,
        "count_ms": statistics.median(times["count"]) * 1e3,
    }


async def burst(
    backend: OpenAICompatBackend, bare: openai.AsyncOpenAI, requests: int, concurrency: int
) -> dict[str, float]:
    """``requests`` short calls, ``concurrency`` at a time, through thrifty's caller (one ledger, as an
    eval's calls) and then the same bodies through the bare client. The overhead phase has already
    sent these prompts, so both sides find them in vLLM's prefix cache."""
    chats = [
        ChatRequest(messages=(Message("user", QUESTIONS[i % len(QUESTIONS)]),), max_tokens=16, temperature=0)
        for i in range(requests)
    ]
    caller = ModelCaller(backend, Ledger(Limits(total_tokens=10**9)), ignore_events)
    gate = asyncio.Semaphore(concurrency)

    async def run(call: Awaitable[object]) -> None:
        async with gate:
            await call

    started = time.perf_counter()
    await asyncio.gather(*(run(bare.chat.completions.create(**backend._kwargs(c))) for c in chats))
    bare_s = time.perf_counter() - started
    started = time.perf_counter()
    await asyncio.gather(*(run(caller(c, step=0)) for c in chats))
    return {"thrifty_s": time.perf_counter() - started, "bare_s": bare_s}


async def _eval(
    backend: Backend, tmp: Path, tools: list[Tool], samples: int, concurrency: int, config: LoopConfig
) -> tuple[int, float]:
    log = tmp / f"log-{time.monotonic_ns()}.jsonl"
    budget = parse_budget_spec("search=1,browse=1,tokens=4000", tools=("search", "browse"))
    started = time.perf_counter()
    progress = await run_eval(
        generate(samples, seed=0),
        [Condition("react", "1", budget)],
        backends=[backend],
        tools=tools,
        log_path=log,
        concurrency=concurrency,
        config=config,
        traces=False,
    )
    return progress.done, time.perf_counter() - started


async def throughput(
    backend: OpenAICompatBackend, bare: openai.AsyncOpenAI, samples: int, concurrency: int, step_tokens: int
) -> dict[str, float]:
    config = LoopConfig(temperature=0.0, seed=0, step_max_tokens=step_tokens, final_max_tokens=step_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        index_path = Path(tmp) / "web.sqlite"
        build_default_index(index_path)
        tools: list[Tool] = [SearchTool(CorpusIndex(index_path)), BrowseTool(CorpusIndex(index_path))]
        recording = Recording(backend)
        await _eval(recording, Path(tmp), tools, samples, concurrency, config)  # records; warms the cache
        queue = list(recording.bodies.values())
        calls = sum(len(b) for b in queue)

        async def worker() -> None:
            while queue:
                for body in queue.pop():
                    await bare.chat.completions.create(**body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        replay = time.perf_counter() - started
        timed = Recording(backend)
        done, wall = await _eval(timed, Path(tmp), tools, samples, concurrency, config)
    return {
        "samples": done,
        "calls": calls,
        "timed_calls": sum(len(b) for b in timed.bodies.values()),
        "thrifty_s": wall,
        "bare_s": replay,
    }


async def main_async(args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        if args.base_url:
            config = BackendConfig(base_url=args.base_url)
        else:
            from thrifty.backends.embedded import QWEN_05B
            from thrifty.backends.hf_export import export_hf

            os.environ.update({k: os.environ.get(k) or v for k, v in SERVER_ENV.items()})
            config = BackendConfig(vllm_model=str(export_hf(QWEN_05B)), vllm_args=SERVER_ARGS)
        backend = await stack.enter_async_context(open_backend(config))
        assert isinstance(backend, OpenAICompatBackend)
        bare = openai.AsyncOpenAI(base_url=backend.base_url, api_key="x")
        stack.push_async_callback(bare.close)
        over = await overhead(backend, bare, args.calls)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"overhead ({args.calls} calls, max_tokens 16): thrifty {over['thrifty_s']:.3f} s/call, bare "
            f"{over['bare_s']:.3f} s/call, extra {over['extra_ms']:.1f} ms (the /tokenize pre-count: "
            f"{over['count_ms']:.1f} ms)"
        )
        for concurrency in args.concurrency:
            b = await burst(backend, bare, args.requests, concurrency)
            print(
                f"short requests ({args.requests}, max_tokens 16, concurrency {concurrency}): thrifty "
                f"{b['thrifty_s']:.1f} s ({args.requests / b['thrifty_s']:.2f} req/s), bare {b['bare_s']:.1f} s "
                f"({args.requests / b['bare_s']:.2f} req/s); ratio {b['thrifty_s'] / b['bare_s']:.3f}; "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        for concurrency in args.concurrency if args.samples else ():
            tp = await throughput(backend, bare, args.samples, concurrency, args.step_tokens)
            print(
                f"eval throughput ({tp['samples']:.0f} react samples, {tp['calls']:.0f} calls recorded / "
                f"{tp['timed_calls']:.0f} timed, concurrency {concurrency}): thrifty {tp['thrifty_s']:.1f} s "
                f"({60 * tp['samples'] / tp['thrifty_s']:.1f} samples/min), bare replay {tp['bare_s']:.1f} s; "
                f"ratio {tp['thrifty_s'] / tp['bare_s']:.2f}; load average {os.getloadavg()[0]:.2f}"
            )


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", help="attach to this vLLM instead of spawning one")
    parser.add_argument("--calls", type=int, default=12, help="overhead: single requests per side")
    parser.add_argument("--requests", type=int, default=24, help="short requests per side and concurrency")
    parser.add_argument("--samples", type=int, default=0, help="react eval samples per pass (0: skip)")
    parser.add_argument("--concurrency", type=_ints, default=[1, 4], help="comma-separated, e.g. 1,4")
    parser.add_argument("--step-tokens", type=int, default=48, help="max tokens per react step")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
