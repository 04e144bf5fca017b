"""One embedded model server per machine, shared by every thrifty process that asks for the same one.

Why: each ``thrifty ask`` used to start its own llama-server; two at once on 2 cores each ran ~10×
slower, and every ask paid the start again. Now the first user starts a *supervisor* (a detached,
stdlib-only process, :mod:`thrifty.backends.supervisor`) that runs the server and publishes its port
in the cache directory; later asks, chats and evals attach to it, and the supervisor stops it once
nobody has used it for ``idle`` seconds. A server is reused only when its identity matches what is
asked (model path and sha256, runtime binary and version, context, slots): the identity names the
files, so a different model or an upgraded runtime simply gets a server of its own.

Races and leftovers: every read or change of the published state happens under one exclusive
``flock``, so two first starts end with one server (the second waits, then attaches); a state file
whose supervisor is gone, or that no longer answers, is stale and replaced. Users hold a shared
``flock`` lease while they use the server, which the kernel drops if they die, so a crashed user
never keeps a server alive. ``thrifty serve`` stays a private server for explicit use.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from thrifty.backends.process import log_tail
from thrifty.errors import BackendUnavailable
from thrifty.paths import cache_dir

DEFAULT_IDLE = 300.0
"""Seconds an unused shared server stays up (``server_idle`` in the settings)."""
SUPERVISOR = Path(__file__).with_name("supervisor.py")
PROTOCOL = "1"
"""Part of every identity: a thrifty whose supervisor protocol changed never attaches to an old one."""


@dataclass(frozen=True, slots=True)
class Launch:
    """How to run a shared server and what makes one reusable."""

    command: tuple[str, ...]
    """The server's argv; ``{port}`` is replaced by the port the supervisor picks."""
    identity: Mapping[str, str]
    """What must match for an existing server to be reused (model, sha256, runtime, settings)."""
    alias: str
    """The model name the server lists at ``/v1/models`` (checked before reuse)."""
    env: Mapping[str, str] = field(default_factory=dict)
    idle: float = DEFAULT_IDLE
    startup_timeout: float = 120.0
    health_path: str = "/health"

    @property
    def key(self) -> str:
        blob = json.dumps({**self.identity, "protocol": PROTOCOL}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class _Files:
    directory: Path
    key: str

    def path(self, suffix: str) -> Path:
        return self.directory / f"{self.key}{suffix}"


def servers_dir() -> Path:
    return cache_dir() / "servers"


@contextlib.asynccontextmanager
async def shared_server(launch: Launch, directory: Path | None = None) -> AsyncIterator[str]:
    """The base URL (``…/v1``) of the shared server for ``launch``, started if none is running.

    The caller holds a lease for the duration of the block; the server outlives it by the idle timeout.
    """
    files = _Files(directory or servers_dir(), launch.key)
    lease = _open(files, ".lease")  # held for the whole block
    try:
        async with _exclusive(files, launch.startup_timeout + 30.0):
            state = await _published(files, launch)
            if state is None:
                state = await _start(files, launch)
            fcntl.flock(lease, fcntl.LOCK_SH)  # never blocks: the supervisor only locks it under our lock
        yield f"http://127.0.0.1:{state['port']}/v1"
    finally:
        with contextlib.suppress(OSError):
            os.utime(files.path(".lease"))  # the idle clock starts now
        lease.close()


def _open(files: _Files, suffix: str) -> BinaryIO:
    files.directory.mkdir(parents=True, exist_ok=True)
    return open(files.path(suffix), "a+b")  # the caller closes it


def _try_lock(file: BinaryIO) -> bool:
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def _exclusive(files: _Files, patience: float) -> AsyncIterator[None]:
    """The exclusive ``flock`` on the key's lock file, waited for without blocking the event loop."""
    with _open(files, ".lock") as lock:
        deadline = time.monotonic() + patience
        while not _try_lock(lock):
            if time.monotonic() > deadline:
                raise BackendUnavailable(
                    f"another thrifty process held {files.path('.lock')} for over {patience:.0f}s; "
                    "if none is running, delete the file"
                )
            await asyncio.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        path.unlink(missing_ok=True)  # torn or foreign: nothing can use it
        return None
    return state if isinstance(state, dict) else None


def _is_supervisor(pid: int, key: str) -> bool:
    """``pid`` is alive and is the supervisor of ``key`` (a reused pid is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return SUPERVISOR.name.encode() in cmdline and key.encode() in cmdline


async def _answers(port: int, alias: str, health_path: str) -> bool:
    """The server on ``port`` is healthy and serves ``alias``."""
    import httpx  # here, not at import: `thrifty --help` must not load it

    root = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            if (await client.get(root + health_path)).status_code != 200:
                return False
            models = (await client.get(root + "/v1/models")).json()
    except (httpx.HTTPError, ValueError):
        return False
    data = models.get("data") if isinstance(models, dict) else None
    return isinstance(data, list) and any(isinstance(m, dict) and m.get("id") == alias for m in data)


async def _published(files: _Files, launch: Launch) -> dict[str, Any] | None:
    """The published state when its server is ours and answers; a stale one is cleared (under the lock)."""
    state_path = files.path(".json")
    state = _read_state(state_path)
    if state is None:
        return None
    pid, port = state.get("pid"), state.get("port")
    if not isinstance(pid, int) or not isinstance(port, int) or not _is_supervisor(pid, files.key):
        state_path.unlink(missing_ok=True)  # its supervisor died without cleaning up
        return None
    if state.get("identity") == dict(launch.identity) and await _answers(port, launch.alias, launch.health_path):
        return state
    state_path.unlink(missing_ok=True)  # alive but not answering (or not what it claims): replace it
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    return None


def _spawn_supervisor(files: _Files, launch: Launch) -> int:
    """Start the detached supervisor (its own session; it must outlive this process)."""
    launch_path = files.path(".launch.json")
    payload = {
        "key": files.key,
        "command": list(launch.command),
        "env": dict(launch.env),
        "identity": dict(launch.identity),
        "idle": launch.idle,
        "startup_timeout": launch.startup_timeout,
        "health_path": launch.health_path,
        "server_log": str(cache_dir() / "logs" / "llama-server-{port}.log"),
    }
    launch_path.write_text(json.dumps(payload))
    log = os.open(files.path(".log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", str(SUPERVISOR), str(launch_path)],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log)


def _exit_code(pid: int) -> int | None:
    """The exit code of our child ``pid`` once it has ended (reaping it), else None; never waits."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


async def _start(files: _Files, launch: Launch) -> dict[str, Any]:
    """Start a supervisor and wait (holding the lock) until it publishes a healthy server."""
    pid = _spawn_supervisor(files, launch)
    deadline = time.monotonic() + launch.startup_timeout + 10.0
    while time.monotonic() < deadline:
        state = _read_state(files.path(".json"))
        if state is not None and state.get("pid") == pid:
            return state
        code = _exit_code(pid)
        if code is not None:
            raise BackendUnavailable(
                f"the embedded model server did not start (supervisor exit {code}); "
                f"log {files.path('.log')}:\n{log_tail(files.path('.log'))}"
            )
        await asyncio.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    raise BackendUnavailable(f"the embedded model server was not ready in time; log {files.path('.log')}")
