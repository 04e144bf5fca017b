"""``python``: run model-written code in a sandboxed subprocess.

Limits: wall-clock timeout (the whole process group is killed), CPU seconds, address space,
file size and open files (rlimits), an empty network namespace where the kernel allows one, an
audit hook in the child that refuses sockets, subprocesses, ctypes and writes outside a fresh
temporary folder, an isolated interpreter (``-I``) with a minimal environment, and capped output.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import sys
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from thrifty.backends.base import ToolSpec
from thrifty.tools.base import OneUnitTool, ToolContext, ToolResult

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def _limits(memory_bytes: int, cpu_seconds: int, file_bytes: int) -> None:
    """Runs in the child between fork and exec."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(Exception):  # no network namespace available: the audit hook still blocks sockets
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) != 0:
            libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)


def _prepare(folder: str, code: str) -> None:
    prelude = resources.files("thrifty.tools").joinpath("sandbox_prelude.py").read_text(encoding="utf-8")
    Path(folder, "main.py").write_text(code, encoding="utf-8")
    Path(folder, "_prelude.py").write_text(prelude, encoding="utf-8")


class PythonTool(OneUnitTool):
    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        memory_mb: int = 512,
        cpu_seconds: int = 10,
        max_output_chars: int = 8000,
        max_file_mb: int = 16,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.memory_bytes = memory_mb * 1024 * 1024
        self.cpu_seconds = cpu_seconds
        self.max_output_chars = max_output_chars
        self.file_bytes = max_file_mb * 1024 * 1024
        self._spec = ToolSpec(
            name="python",
            description="Run Python 3 code in a sandbox (no network, no subprocesses, limited time and memory) "
            "and return what it prints. Use print() to show results.",
            parameters={
                "type": "object",
                "properties": {"code": {"type": "string", "description": "A complete Python program."}},
                "required": ["code"],
            },
        )

    async def run(self, arguments: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        output, code = await self.execute(str(arguments.get("code", "")))
        return ToolResult(output, is_error=code != 0)

    async def execute(self, code: str) -> tuple[str, int]:
        """(captured output, exit code); -1 when killed for time."""
        with tempfile.TemporaryDirectory(prefix="thrifty-py-") as tmp:
            _prepare(tmp, code)
            env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "_prelude.py",
                cwd=tmp, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                preexec_fn=lambda: _limits(self.memory_bytes, self.cpu_seconds, self.file_bytes),
                start_new_session=True,
            )  # fmt: skip
            try:
                out, _ = await asyncio.wait_for(self._read(proc), self.timeout_seconds)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                return f"Error: timed out after {self.timeout_seconds:g}s (process killed)", -1
        text = out.decode("utf-8", errors="replace")
        if len(text) > self.max_output_chars:
            text = text[: self.max_output_chars] + f"\n… (output truncated at {self.max_output_chars} characters)"
        code_ = proc.returncode if proc.returncode is not None else -1
        if code_ < 0:
            text += f"\nError: killed by signal {-code_} (time or memory limit)"
        return text or "(no output)", code_

    async def _read(self, proc: asyncio.subprocess.Process) -> tuple[bytes, None]:
        assert proc.stdout is not None
        chunks: list[bytes] = []
        size = 0
        while chunk := await proc.stdout.read(65536):
            if size < self.max_output_chars * 4:  # keep reading (so the child never blocks) but stop storing
                chunks.append(chunk)
                size += len(chunk)
        await proc.wait()
        return b"".join(chunks), None
