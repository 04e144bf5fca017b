"""What ``thrifty view FILE [FILE2]`` builds and serves: a trace page or an eval page, from one file
or two side by side (two traces, or two eval logs; one log holding two runs compares them too)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from thrifty.errors import ConfigError
from thrifty.evals.log import load_log
from thrifty.traces import read_trace
from thrifty.viewer.evalpage import LogSource, eval_page
from thrifty.viewer.timeline import page, traces_body
from thrifty.viewer.trajectory import runs_of


def kind_of(path: Path) -> str:
    """``trace`` or ``eval``, from the file's first readable line; a ConfigError naming the file otherwise."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    first = json.loads(line)
                except ValueError:
                    continue
                if isinstance(first, dict) and isinstance(first.get("type"), str):
                    return "trace"
                if isinstance(first, dict) and ("kind" in first or "task_id" in first):
                    return "eval"
                break
    except OSError as exc:
        raise ConfigError("view", f"cannot read {path}: {exc.strerror or exc}") from None
    raise ConfigError("view", f"{path} is not a thrifty trace or eval log (no JSONL run events or samples in it)")


def build(paths: Sequence[Path]) -> str:
    """The page for one or two files of the same kind."""
    kinds = {kind_of(p) for p in paths}
    if len(kinds) > 1:
        raise ConfigError("view", "give two traces or two eval logs, not one of each")
    names = _names(paths)
    if kinds == {"trace"}:
        traces = [(name, runs_of(read_trace(p))) for name, p in zip(names, paths, strict=True)]
        title = "thrifty run: " + " vs ".join(names)
        return page(title, traces_body(traces))
    sources = [LogSource(name, load_log(p), p.parent, p.stat().st_mtime) for name, p in zip(names, paths, strict=True)]
    if not any(s.log.samples for s in sources):
        raise ConfigError("view", f"{', '.join(map(str, paths))}: no samples in the log yet")
    return eval_page(sources)


def _names(paths: Sequence[Path]) -> list[str]:
    """Short names that tell the files apart (the file name, or more of the path when they clash)."""
    for depth in (1, 2):
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


class _Handler(BaseHTTPRequestHandler):
    def render(self) -> str:
        raise NotImplementedError

    def do_GET(self) -> None:
        if self.path not in ("/", "/index.html"):
            self.send_error(404)
            return
        try:
            body, status = self.render().encode(), 200
        except ConfigError as exc:
            body, status = f"<p>{exc}</p>".encode(), 500
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows the address, not every request."""


@contextlib.contextmanager
def serving(paths: Sequence[Path], port: int = 0) -> Iterator[str]:
    """Serve the page on 127.0.0.1 while the block runs (rebuilt per request, so a reload shows an
    eval that is still running); yields the page's URL."""
    build(paths)  # a bad file is an error now, not on the first request

    class Handler(_Handler):
        def render(self) -> str:
            return build(paths)

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise ConfigError("--port", f"cannot listen on port {port}: {exc.strerror or exc}") from None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
