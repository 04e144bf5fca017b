"""Managed server subprocesses (llama-server, ``vllm serve``): free port, health check, kept logs.

The child runs in its own session so a Ctrl-C in the terminal reaches thrifty first; thrifty then
terminates the child by its own PID only (never a process group it did not create). However thrifty
ends — even by SIGKILL — the kernel kills the server with it (:func:`thrifty.children.spawn`), so no
orphaned server keeps burning the cores.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from thrifty.children import spawn
from thrifty.errors import BackendUnavailable


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_ERROR_LINE = re.compile(r"(Error|Exception|error:|ERROR|No module named)")


def failure_line(tail: str) -> str:
    """The last line of a log tail that names an error (a traceback's final line, an ``ERROR`` record),
    so a failed start is summed up on one line before the tail itself."""
    for line in reversed(tail.splitlines()):
        if _ERROR_LINE.search(line):
            return line.strip()[:300]
    return "no error line in its log"


class ManagedServer:
    """A local OpenAI-compatible server process that thrifty started and will stop."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        port: int,
        log_path: Path,
        host: str = "127.0.0.1",
        name: str = "server",
        health_path: str = "/health",
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.command = list(command)
        self.host = host
        self.name = name
        self.port = port
        self.log_path = log_path
        self.health_path = health_path
        self.env = dict(env) if env is not None else None
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = spawn(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env is not None else None,
                start_new_session=True,
            )

    async def wait_healthy(self) -> None:
        import httpx  # here, not at the top: the CLI's startup never needs it

        deadline = time.monotonic() + self.startup_timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    raise self._failure(f"exited with code {self._proc.returncode} while starting")
                try:
                    r = await client.get(self.root_url + self.health_path)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        self.stop()
        raise self._failure(f"not healthy after {self.startup_timeout:.0f}s")

    def _failure(self, what: str) -> BackendUnavailable:
        """One line (what happened, the log's error line, where the log is), then the log's tail."""
        tail = log_tail(self.log_path)
        return BackendUnavailable(f"{self.name} {what}: {failure_line(tail)} (log {self.log_path})\n{tail}")

    def stop(self, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    async def __aenter__(self) -> ManagedServer:
        self.start()
        try:
            await self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
