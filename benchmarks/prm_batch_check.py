"""Batched vs one-call-per-step PRM judging on the real embedded llama-server (issue 19, deliverable 2).

Judges the same steps of a few partial solutions twice through the one charged call path: one
``/v1/chat/completions`` call per step, then every step in one ``/v1/completions`` request with a
list of prompts (:meth:`ModelCaller.batch`). Prints both P(Yes) per step, the largest difference,
and the requests, tokens and seconds each way. Starts its own llama-server (stopped at the end):
run it under ``flock /tmp/thrifty-model.lock`` on a shared machine.

Run: python benchmarks/prm_batch_check.py [--model 1.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from thrifty.agents.calls import ModelCaller
from thrifty.agents.particles.prm import LLMJudgePRM, yes_probability
from thrifty.backends.base import ChatRequest, Completion
from thrifty.backends.embedded import embedded_model, llama_server
from thrifty.backends.openai_compat import OpenAICompatBackend
from thrifty.backends.profiles import EMBEDDED_PROFILE
from thrifty.budget import Ledger, Limits, MonotonicClock

QUESTION = "A shop sells pens at $3 each. Sara buys 4 pens and pays with a $20 bill. How much change does she get?"
PARTICLES = [
    ["4 pens cost 4 × 3 = 12 dollars.", "Her change is 20 − 12 = 8 dollars."],
    ["4 pens cost 4 × 3 = 15 dollars."],
    ["4 pens cost 4 × 3 = 12 dollars.", "Her change is 20 + 12 = 32 dollars."],
    ["Each pen costs 3 dollars, so 4 pens cost 12 dollars."],
]


async def judge(backend: OpenAICompatBackend, requests: list[ChatRequest], batched: bool) -> tuple[list[float], str]:
    ledger = Ledger(Limits(), clock=MonotonicClock())
    caller = ModelCaller(backend, ledger, lambda event: None)
    started = time.perf_counter()
    if batched:
        completions = await caller.batch(requests, step=1, purpose="prm")
    else:
        completions = [await caller(r, step=1, purpose="prm") for r in requests]
    seconds = time.perf_counter() - started
    used = ledger.used
    line = (
        f"{used.requests} request(s), {used.input_tokens} in / {used.output_tokens} out, "
        f"{used.cached_tokens} cached, {seconds:.2f} s"
    )
    return [_score(c) for c in completions], line


def _score(completion: Completion) -> float:
    return yes_probability(completion) if completion.logprobs else float("nan")


async def main(model: str | None) -> None:
    spec = embedded_model(model)
    server = llama_server(model=spec, context=8192, parallel=4, seed=0)
    server.start()
    try:
        await server.wait_healthy()
        backend = OpenAICompatBackend(server.base_url, spec.name, profile=EMBEDDED_PROFILE)
        prm = LLMJudgePRM()
        requests = [prm.request(QUESTION, steps, i) for steps in PARTICLES for i in range(len(steps))]
        one_each, single_line = await judge(backend, requests, batched=False)
        batched, batch_line = await judge(backend, requests, batched=True)
        await backend.aclose()
    finally:
        server.stop()
    print(f"model {spec.name}; {len(requests)} steps of {len(PARTICLES)} particles")
    print("| step | P(Yes) one call each | P(Yes) batched | diff |\n|---|---|---|---|")
    for k, (a, b) in enumerate(zip(one_each, batched, strict=True)):
        print(f"| {k} | {a:.6f} | {b:.6f} | {abs(a - b):.2e} |")
    print(f"\none call each: {single_line}\nbatched:       {batch_line}")
    print(f"largest |difference|: {max(abs(a - b) for a, b in zip(one_each, batched, strict=True)):.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="embedded model (default: the 1.5B)")
    asyncio.run(main(parser.parse_args().model))
