"""Batch runner throughput: wall time vs the ideal bound against a fixed-latency loopback stub.

    ideal = samples × model calls per sample × latency / concurrency

Run: python benchmarks/eval_throughput.py [--samples 256] [--concurrency 64] [--latency 1.0] [--steps 2]
Any sample count and concurrency work (e.g. --samples 4096 --concurrency 1024).
The stub (benchmarks/stub_server.py, in its own process) answers every request after ``latency`` seconds with canned
native tool calls (``steps`` tool calls, then the answer), so each sample makes steps + 1 calls. The calls and
the connections thrifty made are read from the stub's own log (``GET /stats``), and the runner's CPU per call
from this process's rusage; connections beyond one per sample in flight are reconnects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from thrifty.backends import OpenAICompatBackend
from thrifty.backends.profiles import ModelProfile
from thrifty.budget import Limits
from thrifty.evals.runner import Condition, run_eval
from thrifty.evals.tasks import Task, generate
from thrifty.tools.base import FunctionTool


async def lookup(arguments: object) -> str:
    return "result"


RAW_BODY = {"model": "stub", "messages": [{"role": "user", "content": "q"}]}


def raw_request(base_url: str) -> tuple[str, int, bytes]:
    """Host, port and the bytes of one chat request as raw HTTP/1.1 (the bare client's request)."""
    host_port = base_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    body = json.dumps(RAW_BODY).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return host, int(port), head + body


async def raw_reply(reader: asyncio.StreamReader) -> object:
    """One reply read off a kept-alive connection: headers, then ``Content-Length`` bytes of JSON."""
    headers = await reader.readuntil(b"\r\n\r\n")
    length = int(next(h.split(b":")[1] for h in headers.split(b"\r\n") if h.lower().startswith(b"content-length")))
    return json.loads(await reader.readexactly(length))


async def raw_floor(base_url: str, samples: int, calls: int, concurrency: int) -> float:
    """The same request pattern from a bare client (raw HTTP/1.1 on asyncio streams, no agent, no
    ledger): the best any client can do against this stub on this machine."""
    host, port, request = raw_request(base_url)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(samples):
        queue.put_nowait(i)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while not queue.empty():
            queue.get_nowait()
            for _ in range(calls):
                writer.write(request)
                await raw_reply(reader)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def stub_stats(base_url: str) -> dict[str, int]:
    """The stub's own count of connections accepted and chat requests received."""
    with urlopen(f"{base_url}/stats") as reply:
        counts: dict[str, int] = json.loads(reply.read())
    return counts


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_wire(
    expected: int, concurrency: int, wall: float, cpu: float, before: dict[str, int], after: dict[str, int]
) -> None:
    """What the stub saw of the thrifty run, and what it cost this process."""
    made = after["requests"] - before["requests"]
    opened = after["connections"] - before["connections"]
    print(
        f"stub's log: {made} model calls ({made / wall:.0f} calls/s; expected {expected}), "
        f"{opened} connections opened ({max(0, opened - concurrency)} reconnects); "
        f"runner CPU {cpu * 1e6 / max(1, made):.0f} us per call"
    )


def sample_tasks(n: int) -> list[Task]:
    """``n`` tasks for any ``n``: the offline generator yields at most ~500 distinct questions, so
    larger runs repeat them under new ids (the stub answers by id-free prompts; only count matters)."""
    base = generate(min(n, 400), seed=0)
    return [replace(base[i % len(base)], id=f"{base[i % len(base)].id}-r{i // len(base)}") for i in range(n)]


def start_ray() -> Path:
    """A local single-node Ray with token auth on a scratch token (never ~/.ray); its scratch folder."""
    import os
    import secrets

    scratch = Path(tempfile.mkdtemp(prefix="tb-"))
    (scratch / "token").write_text(secrets.token_hex(32))
    (scratch / "ray").mkdir()  # Ray writes its address file there (a fresh machine has no /tmp/ray)
    root = str(Path(__file__).resolve().parents[1])
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(scratch / "token"), RAY_USAGE_STATS_ENABLED="0")
    os.environ["RAY_TMPDIR"] = str(scratch)  # Ray's address file too, never a shared /tmp/ray
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    import ray

    started = time.perf_counter()
    ray.init(
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=200 * 1024**2,
        _temp_dir=str(scratch),
    )
    print(f"ray.init {time.perf_counter() - started:.2f} s")
    return scratch


def ray_run(
    args: argparse.Namespace, tasks: list[Task], tool: FunctionTool, base_url: str, log_path: Path
) -> tuple[float, float]:
    """The same eval through RayExecutor on a local single-node Ray: ``--ray N`` async workers on the one
    endpoint, ``--concurrency`` samples in flight in all."""
    scratch = start_ray()
    import ray

    from thrifty.evals.ray_executor import RayExecutor

    profile = ModelProfile(family="stub", tool_protocol="native")
    backends = [OpenAICompatBackend(base_url, "stub", profile=profile) for _ in range(args.ray)]

    async def run() -> tuple[float, float]:
        stamps: list[float] = []
        progress = await run_eval(
            tasks,
            [Condition("react", "-", Limits(tools={"lookup": 100}))],
            backends=backends,
            tools=[tool],
            log_path=log_path,
            concurrency=args.concurrency,
            traces=not args.no_traces,
            executor=RayExecutor(address=None),
            on_sample=lambda sample, progress: stamps.append(time.perf_counter()),
        )
        assert progress.done == args.samples
        # Without the workers' start (a new process each, importing thrifty): from the first finished
        # sample to the last, plus one sample's own model time.
        return time.perf_counter() - started, stamps[-1] - stamps[0] + (args.steps + 1) * args.latency

    try:
        started = time.perf_counter()  # from the first actor start: workers' startup counts
        return asyncio.run(run())
    finally:
        ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument(
        "--threaded-stub",
        action="store_true",
        help="the thread-per-connection http.server stub (heavier) instead of the asyncio one",
    )
    parser.add_argument("--no-traces", action="store_true", help="skip the per-sample traces the runner writes")
    parser.add_argument("--ray", type=int, default=0, metavar="N", help="also run through RayExecutor, N workers")
    parser.add_argument("--uvloop", action="store_true", help="run the plain runner on uvloop's event loop")
    return parser.parse_args()


def start_stub(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    """The stub in its own process (its work does not share the runner's event loop), and its URL."""
    stub = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("stub_server.py")),
            "--steps",
            str(args.steps),
            "--latency",
            str(args.latency),
            *(["--threads"] if args.threaded_stub else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    return stub, stub.stdout.readline().strip()


async def local_run(
    args: argparse.Namespace, tasks: list[Task], tool: FunctionTool, base_url: str, log_path: Path
) -> float:
    """Wall time of the batch runner (in this process) over all samples at the given concurrency."""
    backend = OpenAICompatBackend(base_url, "stub", profile=ModelProfile(family="stub", tool_protocol="native"))
    started = time.perf_counter()
    progress = await run_eval(
        tasks,
        [Condition("react", "-", Limits(tools={"lookup": 100}))],
        backends=[backend],
        tools=[tool],
        log_path=log_path,
        concurrency=args.concurrency,
        traces=not args.no_traces,
    )
    elapsed = time.perf_counter() - started
    await backend.aclose()
    assert progress.done == args.samples
    return elapsed


def _loop_run(args: argparse.Namespace) -> Callable[[Coroutine[Any, Any, float]], float]:
    """asyncio.run, or uvloop.run with ``--uvloop`` (the same code on libuv's event loop)."""
    if args.uvloop:
        import uvloop

        return uvloop.run
    return asyncio.run


def main() -> None:
    args = parse_args()
    tasks = sample_tasks(args.samples)
    tool = FunctionTool(
        "lookup", "Look something up.", {"type": "object", "properties": {"query": {"type": "string"}}}, lookup
    )
    calls = args.steps + 1
    ideal = args.samples * calls * args.latency / args.concurrency
    stub, base_url = start_stub(args)
    try:
        floor = asyncio.run(raw_floor(base_url, args.samples, calls, args.concurrency))
        before, cpu = stub_stats(base_url), cpu_seconds()
        with tempfile.TemporaryDirectory() as tmp:
            runner = local_run(args, tasks, tool, base_url, Path(tmp) / "log.jsonl")
            wall = _loop_run(args)(runner)
            cpu, after = cpu_seconds() - cpu, stub_stats(base_url)
            ray_wall = ray_run(args, tasks, tool, base_url, Path(tmp) / "ray.jsonl") if args.ray else None
    finally:
        stub.terminate()
        stub.wait()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"samples {args.samples}, concurrency {args.concurrency}, latency {args.latency}s, calls/sample {calls}")
    print(f"ideal bound {ideal:.2f} s")
    print(f"bare client (raw HTTP, no agent): {floor:.2f} s; ratio {floor / ideal:.3f}")
    print(f"thrifty runner: {wall:.2f} s; ratio {wall / ideal:.3f}; vs the bare client {wall / floor:.3f}")
    print(f"model calls/s: bare client {args.samples * calls / floor:.0f}, runner {args.samples * calls / wall:.0f}")
    if ray_wall is not None:
        wall_ray, steady = ray_wall
        print(
            f"RayExecutor, {args.ray} worker(s): {wall_ray:.2f} s with the workers' start, ratio {wall_ray / ideal:.3f}; "
            f"without it about {steady:.2f} s, ratio {steady / ideal:.3f}, {args.samples * calls / steady:.0f} calls/s"
        )
    print_wire(args.samples * calls, args.concurrency, wall, cpu, before, after)


if __name__ == "__main__":
    main()
