"""The small commands: ``view``, ``advise``, ``serve``, ``web serve``, ``tasks generate``, ``index build`` and
``index search``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import threading
from pathlib import Path

from thrifty.errors import ConfigError


def view(args: argparse.Namespace) -> int:
    if len(args.files) > 2:
        raise ConfigError("view", "give one file, or two to compare side by side")
    if args.tree:
        return _tree(args.files)
    from thrifty.viewer.build import build, serving

    if args.html:
        args.html.write_text(build(args.files), encoding="utf-8")
        print(f"wrote {args.html}")
        return 0
    with serving(args.files, args.port) as url, contextlib.suppress(KeyboardInterrupt):
        print(f"thrifty view at {url} (reload to refresh; Ctrl-C to stop)", flush=True)
        threading.Event().wait()
    return 0


def _tree(files: list[Path]) -> int:
    from rich.console import Console

    from thrifty.display import trace_tree
    from thrifty.traces import read_trace

    for path in files:
        records = [r for r in read_trace(path) if isinstance(r.get("type"), str)]
        if not records:
            raise ConfigError("trace", f"{path} is not a thrifty trace (no JSONL run events in it)")
        Console().print(trace_tree(records))
    return 0


def advise(args: argparse.Namespace) -> int:
    import sys

    from thrifty.evals.advise import advice_markdown, advise_rows
    from thrifty.evals.log import load_log
    from thrifty.evals.report import summarize

    log = load_log(args.log)
    if log.skipped:
        print(f"warning: skipped {log.skipped} unreadable line(s) in {args.log}", file=sys.stderr)
    if not log.samples:
        raise ConfigError("log", f"{args.log} has no eval samples (is it a log written by thrifty eval?)")
    runs = set(args.run) if args.run else None
    if runs is not None and not runs & {s.run for s in log.samples}:
        raise ConfigError("--run", f"none of {sorted(runs)} is in {args.log}")
    print(advice_markdown(advise_rows(summarize(log.samples, runs=runs), log.headers)))
    return 0


def serve(args: argparse.Namespace) -> int:
    from thrifty.backends.embedded import embedded_model, llama_server

    spec = embedded_model(args.model)

    async def run() -> None:
        async with llama_server(model=spec, port=args.port, context=args.context, parallel=args.parallel) as server:
            print(f"embedded model serving at {server.base_url} on {server.name} (Ctrl-C to stop)", flush=True)
            await asyncio.Event().wait()  # until Ctrl-C cancels the run

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def web(args: argparse.Namespace) -> int:
    import time

    from thrifty.search.index import CorpusIndex
    from thrifty.search.offline import open_default_index
    from thrifty.search.web_server import CorpusWebServer

    index = CorpusIndex(args.index) if args.index else open_default_index()
    try:
        server = CorpusWebServer(index, port=args.port)
    except OSError as exc:
        busy = exc.errno == errno.EADDRINUSE
        raise ConfigError("--port", f"port {args.port} is in use" if busy else f"cannot listen: {exc}") from None
    with server, contextlib.suppress(KeyboardInterrupt):
        print(f"offline web at {server.base_url}/ · a page: {server.base_url}/en.wikipedia.org/wiki/Paris")
        while True:
            time.sleep(3600)
    return 0


def tasks(args: argparse.Namespace) -> int:
    from thrifty.evals.hop_tasks import generate_hops
    from thrifty.evals.math_tasks import generate_math
    from thrifty.evals.tasks import generate, write_tasks

    wrong = "--hops" if args.kind == "math" and args.hops is not None else None
    if args.kind == "web" and (args.operations is not None or args.distractors is not None):
        wrong = "--operations" if args.operations is not None else "--distractors"
    if wrong:
        raise ConfigError(wrong, f"{wrong} does not apply to --kind {args.kind}")
    if args.kind == "math":
        made = generate_math(args.n, args.seed, operations=args.operations, distractors=args.distractors or 0)
    else:
        made = generate(args.n, args.seed) if args.hops is None else generate_hops(args.n, args.seed, hops=args.hops)
    write_tasks(made, args.output)
    print(f"wrote {len(made)} tasks to {args.output}")
    return 0


def index(args: argparse.Namespace) -> int:
    return index_search(args) if args.index_command == "search" else index_build(args)


def index_build(args: argparse.Namespace) -> int:
    from thrifty.search.corpus import corpus_version, folder_pages, jsonl_pages
    from thrifty.search.index import build_index
    from thrifty.search.offline import build_default_index, default_index_path

    try:
        if args.jsonl or args.folder:
            if not args.path:
                raise ConfigError("--path", "an index of your own files needs --path (where to write it)")
            pages = jsonl_pages(args.jsonl) if args.jsonl else folder_pages(args.folder)
            try:
                stats = build_index(args.path, pages, version=f"user+{corpus_version()}", backend=args.backend)
            except (ValueError, KeyError, UnicodeDecodeError) as exc:
                flag = "--jsonl" if args.jsonl else "--folder"
                raise ConfigError(flag, f"cannot index {args.jsonl or args.folder}: {exc}") from None
        else:
            stats = build_default_index(args.path or default_index_path(), backend=args.backend)
    except ConfigError as exc:
        if exc.field != "backend":
            raise
        raise ConfigError("--backend", str(exc).removeprefix("backend: ")) from None
    print(f"indexed {stats.pages:,} pages into {stats.path} ({stats.backend}) in {stats.seconds:.2f}s")
    return 0


def index_search(args: argparse.Namespace) -> int:
    import time

    from thrifty.search.index import CorpusIndex
    from thrifty.search.offline import open_default_index
    from thrifty.terminal import escape_controls

    index = CorpusIndex(args.index) if args.index else open_default_index()
    started = time.perf_counter()
    results = index.search_sync(args.query, k=args.k)
    took = (time.perf_counter() - started) * 1000
    for n, r in enumerate(results, 1):
        print(escape_controls(f"{n}. {r.title}  <{r.url}>  score {r.score}\n   {r.snippet}"))
    print(f"{len(results)} result(s) from {len(index):,} pages ({index.backend}) in {took:.1f} ms")
    return 0
