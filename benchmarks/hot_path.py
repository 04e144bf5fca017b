"""The client's hot path, measured without any server: the per-step prompt estimate and CLI start-up.

1. Prompt estimate per step as the history grows (issue 15.8): with a token limit set and a server
   that cannot count (not llama.cpp/vLLM), every step estimates the prompt offline. The full count
   (:func:`estimate_prompt_tokens`) re-encodes the whole history; :class:`PromptEstimator` (what
   ``OpenAICompatBackend`` uses) counts each message once. History: a 1 KB system prompt, a
   question, then per step one tool call and one 1.5 KB page of the bundled corpus.
2. ``thrifty --help`` wall time, interleaved with ``python -c pass`` and ``python -c 'import openai'``,
   and whether it imported the openai client at all.

Run: python benchmarks/hot_path.py [--steps 50] [--repeats 7] [--starts 7]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from thrifty.backends.base import ChatRequest, Message, ToolCall, ToolSpec
from thrifty.backends.tokens import PromptEstimator, estimate_prompt_tokens
from thrifty.search.corpus import wiki_pages

REPORT_STEPS = (1, 5, 10, 20, 30, 50, 100, 200)


def _time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU time (this process's): on a busy machine wall time mostly measures preemption."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        fn()
        times.append((time.process_time() - started) * 1e3)
    return statistics.median(times)


def estimate_growth(steps: int, repeats: int) -> None:
    texts = [p.text[:1500] for _, p in zip(range(200), wiki_pages(), strict=False)]
    spec = ToolSpec("search", "Search the web.", {"type": "object", "properties": {"query": {"type": "string"}}})
    history = [Message("system", "You are a research agent. " * 40), Message("user", "Who founded the company?")]
    estimator = PromptEstimator()
    estimate_prompt_tokens(ChatRequest(messages=(Message("user", "warm"),)))  # loads the encoding
    print("step  history chars  full count ms  incremental ms  (CPU, median of repeats; incremental: one new step)")
    for step in range(1, steps + 1):
        call = ToolCall(id=f"c{step}", name="search", arguments={"query": f"query {step}"})
        history += [Message("assistant", "", tool_calls=(call,)), Message("tool", texts[step % len(texts)])]
        request = ChatRequest(messages=tuple(history), tools=(spec,))
        if step not in REPORT_STEPS and step != steps:
            estimator(request)  # the agent's step: the new messages enter the cache
            continue
        full = _time_ms(functools.partial(estimate_prompt_tokens, request), repeats)
        # What a step pays: its two new messages are counted, the rest are cache hits.
        incremental = []
        for _ in range(repeats):
            new = (*history[:-2], *(Message(m.role, m.content, m.tool_calls) for m in history[-2:]))
            req = ChatRequest(messages=new, tools=(spec,))
            incremental.append(_time_ms(functools.partial(estimator, req), 1))
        assert estimator(request) == estimate_prompt_tokens(request)
        chars = sum(len(m.content) for m in history)
        print(f"{step:4d}  {chars:13,d}  {full:13.3f}  {statistics.median(incremental):14.3f}")


def cold_start(starts: int) -> None:
    probe = "import sys\nfrom thrifty.cli import main\nmain(['--help'])\nsys.stderr.write(str('openai' in sys.modules))"
    commands = {
        "thrifty --help": [sys.executable, "-c", probe],
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import openai'": [sys.executable, "-c", "import openai"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    imported = set()
    for _ in range(starts):  # interleaved, so a busy moment hits all three alike
        for name, argv in commands.items():
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
            walls[name].append(time.perf_counter() - started)
            if name == "thrifty --help":
                imported.add(done.stderr.strip())
    for name, values in walls.items():
        print(f"{name:28s} median {statistics.median(values):.3f} s  min {min(values):.3f} s")
    ratio = statistics.median(walls["thrifty --help"]) / statistics.median(walls["python -c 'import openai'"])
    print(f"thrifty --help / import openai = {ratio:.2f}; --help imported openai: {sorted(imported)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--starts", type=int, default=7)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    estimate_growth(args.steps, args.repeats)
    if args.starts:
        cold_start(args.starts)


if __name__ == "__main__":
    main()
