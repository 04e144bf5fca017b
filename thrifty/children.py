"""Child processes that die with their owner, however the owner ends.

Every process thrifty starts (model servers, python sandboxes, MCP stdio servers) asks the kernel, between fork and
exec, for ``SIGKILL`` when its parent goes (``PR_SET_PDEATHSIG``). That covers the ends no cleanup
code sees — SIGKILL, a SIGTERM with no handler, a crash — as well as a normal exit, an exception and
Ctrl-C, where thrifty's own ``stop()``/timeouts normally get there first. The kernel sends the signal
when the *thread* that forked the child ends, not the process, so children meant to outlive the call
that started them (servers) are forked by one thread that lives as long as the process
(:func:`spawn`); children of one call (sandboxes) and of one session (MCP stdio servers, started
through :func:`launched_dying_with_us` because the MCP library does the forking) are forked by the
event loop's thread, which is alive for as long as the call or session is awaited. A child whose
owner died before the request took effect exits at once. Linux only; elsewhere the owner's own
cleanup is all there is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    return None


_PRCTL = _load_prctl()  # looked up here, before any fork: a forked child must not load libraries

_LAUNCHER = """import ctypes, os, sys
ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)
if os.getppid() != int(sys.argv[1]):
    os._exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def die_with_parent(then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: this child is killed when the forking thread ends; ``then`` runs after."""
    owner = os.getpid()
    prctl = _PRCTL

    def preexec() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != owner:  # the owner died between fork and prctl: the signal will never come
            os._exit(1)
        if then is not None:
            then()

    return preexec


def launched_dying_with_us(argv: Sequence[str]) -> list[str]:
    """``argv`` behind a launcher that asks for the death signal, then execs ``argv`` (same pid).

    For children a library forks for us (MCP stdio servers), where no ``preexec_fn`` can be passed.
    The launcher is this Python with nothing from the environment or site (``-I -S``). A command
    that cannot be found is returned as it is, so the library reports it as it always did.
    """
    if _PRCTL is None or not argv or shutil.which(argv[0]) is None:
        return list(argv)
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *argv]


class _Spawner:
    """The one long-lived thread that forks children meant to outlive the call that started them."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # first use, or a forked copy of us
                self._thread = threading.Thread(target=self._serve, name="thrifty-spawner", daemon=True)
                self._thread.start()
        done: Future[Any] = Future()
        self._jobs.put((fn, done))
        return done.result()

    def _serve(self) -> None:
        while True:
            fn, done = self._jobs.get()
            try:
                done.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread, which re-raises it
                done.set_exception(exc)


_SPAWNER = _Spawner()  # process-wide by nature: the thread must live exactly as long as the process


def spawn(command: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` for a long-lived child that is killed when this process ends, however it ends."""
    process: subprocess.Popen[bytes] = _SPAWNER.run(
        lambda: subprocess.Popen(list(command), preexec_fn=die_with_parent(), **popen_kwargs)
    )
    return process
