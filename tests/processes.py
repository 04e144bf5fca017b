"""Helpers for the tests that hunt for escapes and survivors: the sandbox's presence, and the process
table read straight from /proc (Linux only)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

Proc = tuple[int, int]
"""(pid, start time in clock ticks): a pid alone may be reused by the time it is checked."""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time), or None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> set[Proc]:
    """Every live process below ``root`` in the process tree."""
    children: dict[int, list[Proc]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[1], []).append((int(entry), stat[2]))
    found: set[Proc] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def with_cmdline(marker: str) -> set[Proc]:
    """Live processes whose command line contains ``marker``."""
    found: set[Proc] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and (stat := _stat(int(entry))) is not None:
            found.add((int(entry), stat[2]))
    return found


def alive(proc: Proc) -> bool:
    """Running (a zombie waiting for its reaper counts as dead: it holds no memory and runs nothing)."""
    stat = _stat(proc[0])
    return stat is not None and stat[2] == proc[1] and stat[0] not in ("Z", "X")


def survivors(procs: set[Proc], within: float = 5.0) -> set[Proc]:
    """The processes of ``procs`` still alive after waiting up to ``within`` seconds for them to go."""
    deadline = time.monotonic() + within
    while (left := {p for p in procs if alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def require_sandbox() -> None:
    """Skip where no OS sandbox can run, except under ``THRIFTY_REQUIRE_LIVE=1`` (CI), where it fails."""
    from thrifty.tools import sandbox

    why = sandbox.probe(sandbox.SandboxLimits(1 << 30, 10, 1 << 24, 1 << 26))
    if why is not None:
        if os.environ.get("THRIFTY_REQUIRE_LIVE") == "1":
            pytest.fail(f"the OS sandbox is required but cannot run: {why}")
        pytest.skip(f"no OS sandbox here: {why}")
