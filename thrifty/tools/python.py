"""``python``: run model-written code in an OS sandbox and return what it prints.

The boundary is :mod:`thrifty.tools.sandbox` (bubblewrap + seccomp + rlimits; README "Security"):
read-only root, a private size-capped ``/tmp``, no network, no processes, a PID namespace that dies
with the call, a clean environment, CPU/memory/file-size limits, and at most ``max_concurrent``
sandboxes at once per tool (one reply asking for thirty runs gets a few at a time; a call that finds
no free slot within its own timeout is refused). An audit hook inside (``sandbox_prelude.py``) is a
second layer that names refused operations for the model. Where bubblewrap cannot run, building the
tool fails with one line saying why, unless the caller passes ``unsafe_no_sandbox=True``: then the
code runs as a plain child process under the audit hook and rlimits only, which a determined program
can get past.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import Field

from thrifty.children import die_with_parent
from thrifty.errors import ConfigError
from thrifty.tools import sandbox, seccomp
from thrifty.tools.base import ToolResult
from thrifty.tools.sandbox import SandboxLimits
from thrifty.tools.typed import TypedTool

Code = Annotated[str, Field(description="A complete Python program.")]

_PRELUDE = "sandbox_prelude.py"
_CHILD_ENV = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}


def _stage(folder: str, code: str) -> None:
    Path(folder, "_prelude.py").write_bytes(resources.files("thrifty.tools").joinpath(_PRELUDE).read_bytes())
    Path(folder, "main.py").write_text(code, encoding="utf-8")


class PythonTool(TypedTool):
    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        memory_mb: int = 512,
        cpu_seconds: int = 10,
        max_output_chars: int = 8000,
        max_file_mb: int = 16,
        tmp_mb: int = 64,
        max_concurrent: int = 2,
        read_only: Sequence[str | os.PathLike[str]] = (),
        unsafe_no_sandbox: bool = False,
        audit_hook: bool = True,
    ) -> None:
        """``read_only``: folders or files the code may read (at the same paths). ``audit_hook=False``
        leaves the OS sandbox alone in charge (the attack tests use it to show that it holds by itself)."""
        if max_concurrent < 1:
            raise ConfigError("max_concurrent", f"must be at least 1, got {max_concurrent}")
        if unsafe_no_sandbox and not audit_hook:
            raise ConfigError("audit_hook", "cannot be turned off without the OS sandbox (unsafe_no_sandbox=True)")
        self.timeout_seconds = timeout_seconds
        self.limits = SandboxLimits(memory_mb << 20, cpu_seconds, max_file_mb << 20, tmp_mb << 20)
        self.max_output_chars = max_output_chars
        self.read_only = sandbox.readable_paths(read_only)
        self.unsafe = unsafe_no_sandbox
        self.audit_hook = audit_hook
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        if not unsafe_no_sandbox and (why := sandbox.probe(self.limits)) is not None:
            raise ConfigError(
                "unsafe_no_sandbox",
                f"the python tool needs an OS sandbox and none can run here: {why}; "
                "pass PythonTool(unsafe_no_sandbox=True) to run model code with only an in-process audit hook",
            )
        super().__init__(
            self.python,
            name="python",
            description="Run Python 3 code in a sandbox (no network, no subprocesses, limited time and memory) "
            "and return what it prints. Use print() to show results.",
        )

    async def python(self, code: Code) -> ToolResult:
        output, status = await self.execute(code)
        return ToolResult(output, is_error=status != 0)

    async def execute(self, code: str) -> tuple[str, int]:
        """(captured output, exit code); -1 when killed for time or refused for want of a free slot."""
        deadline = time.monotonic() + self.timeout_seconds
        while not self._slots.acquire(blocking=False):  # a thread-safe slot count, bound to no event loop
            if time.monotonic() >= deadline:
                return (
                    f"Error: refused: {self.max_concurrent} python sandboxes were busy for "
                    f"{self.timeout_seconds:g}s; send fewer python calls at once",
                    -1,
                )
            await asyncio.sleep(0.05)
        try:
            if self.unsafe:
                return await self._unsafe(code)
            return await self._sandboxed(code)
        finally:
            self._slots.release()

    async def _sandboxed(self, code: str) -> tuple[str, int]:
        bwrap = sandbox.bwrap_path()
        if bwrap is None:
            return "Error: bubblewrap disappeared since this tool was built", 1
        prelude = resources.files("thrifty.tools").joinpath(_PRELUDE).read_bytes()
        files = {"_prelude.py": sandbox.memfd("prelude", prelude), "main.py": sandbox.memfd("main", code.encode())}
        filter_fd = sandbox.memfd("seccomp", seccomp.deny_filter())
        fds = [*files.values(), filter_fd]
        argv = [sys.executable, "-I", f"{sandbox.SANDBOX_DIR}/_prelude.py", *self._prelude_flags()]
        try:
            proc = await asyncio.create_subprocess_exec(
                *sandbox.command(bwrap, files, filter_fd, self.limits, argv, self.read_only),
                pass_fds=fds,
                env={"PATH": _CHILD_ENV["PATH"]},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(then=lambda: sandbox.set_rlimits(self.limits)),
            )
        finally:
            for fd in fds:
                os.close(fd)
        return await self._collect(proc)

    async def _unsafe(self, code: str) -> tuple[str, int]:
        """No OS sandbox: a plain child under the audit hook and rlimits (``unsafe_no_sandbox=True``)."""
        with tempfile.TemporaryDirectory(prefix="thrifty-py-") as tmp:
            _stage(tmp, code)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "_prelude.py",
                *self._prelude_flags(),
                cwd=tmp,
                env={**_CHILD_ENV, "HOME": tmp},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(then=lambda: sandbox.set_rlimits(self.limits)),
            )
            return await self._collect(proc)

    def _prelude_flags(self) -> list[str]:
        return [] if self.audit_hook else ["--no-audit-hook"]

    async def _collect(self, proc: asyncio.subprocess.Process) -> tuple[str, int]:
        try:
            out = await asyncio.wait_for(self._read(proc), self.timeout_seconds)
        except TimeoutError:
            return f"Error: timed out after {self.timeout_seconds:g}s (process killed)", -1
        finally:  # timed out, cancelled or failed: the sandbox goes with the call
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await asyncio.shield(proc.wait())
        text = out.decode("utf-8", errors="replace")
        if len(text) > self.max_output_chars:
            text = text[: self.max_output_chars] + f"\n… (output truncated at {self.max_output_chars} characters)"
        status = proc.returncode if proc.returncode is not None else -1
        if status > 128 and not self.unsafe:  # bubblewrap exits 128 + N when the code died of signal N
            status = 128 - status
        if status < 0:
            text += f"\nError: killed by signal {-status} (time or memory limit)"
        return text or "(no output)", status

    async def _read(self, proc: asyncio.subprocess.Process) -> bytes:
        assert proc.stdout is not None
        chunks: list[bytes] = []
        size = 0
        while chunk := await proc.stdout.read(65536):
            if size < self.max_output_chars * 4:  # keep reading (so the child never blocks) but stop storing
                chunks.append(chunk)
                size += len(chunk)
        await proc.wait()
        return b"".join(chunks)
