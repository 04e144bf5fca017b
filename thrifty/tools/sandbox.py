"""The python tool's OS sandbox: bubblewrap namespaces, read-only binds, a seccomp filter, rlimits.

What the model's code gets (see README "Security"): a root built from nothing with read-only binds
of ``/usr``, the running Python (base prefix and virtualenv) and the folders the caller names; a
private size-capped tmpfs at ``/tmp`` as its only writable place (and working folder); fresh user,
PID, network, IPC, UTS and cgroup namespaces (so no network, no other process is visible — not the
parent's ``/proc``, environment or memory — and killing bubblewrap kills everything inside); a clean
environment; no capabilities and no new user namespaces; the seccomp filter of
:mod:`thrifty.tools.seccomp` (no new processes, no sockets); and rlimits on address space, CPU
seconds, file size and open files. Bubblewrap (Debian's ``bubblewrap``) is the one mechanism: where
it cannot run, :func:`probe` says why and the tool refuses unless told to run unsafely by name.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from thrifty.errors import ConfigError
from thrifty.tools import seccomp

SANDBOX_DIR = "/sandbox"
"""Where the prelude and the code appear (read-only) inside the sandbox."""

_SYSTEM_LINKS = ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    tmp_bytes: int
    open_files: int = 64


def set_rlimits(limits: SandboxLimits) -> None:
    """Runs in the child between fork and exec; bubblewrap and everything it starts inherit them."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def memfd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding ``data``, rewound, to hand to bubblewrap by number."""
    fd = os.memfd_create(name, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _python_dirs() -> list[str]:
    """The running interpreter's folders, as invoked and resolved (a venv's python is a symlink)."""
    dirs: list[str] = []
    for raw in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, os.path.dirname(sys.executable)):
        for path in (os.path.abspath(raw), os.path.realpath(raw)):
            if not path.startswith("/usr/") and path not in dirs and os.path.isdir(path):
                dirs.append(path)
    return dirs


def _below_tmp(path: str) -> bool:
    return path.startswith("/tmp/")  # never /tmp itself: that would undo the private /tmp


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for path in (*_ETC_FILES, *_python_dirs()):
        args += ["--ro-bind-try", path, path]
    return args


def command(
    bwrap: str,
    files: Mapping[str, int],
    seccomp_fd: int,
    limits: SandboxLimits,
    argv: Sequence[str],
    readable: Sequence[str] = (),
) -> list[str]:
    """The bubblewrap command line; ``files`` maps a name in :data:`SANDBOX_DIR` to a memfd."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
    args += ["--uid", "65534", "--gid", "65534", "--hostname", "sandbox", "--cap-drop", "ALL"]
    args += [
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
    ]
    args += ["--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "PYTHONIOENCODING", "utf-8"]
    args += _system_args()
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    # After /tmp, whose tmpfs would hide a folder below it: the caller's paths, and the interpreter
    # when it lives there (a checkout in /tmp with its virtualenv inside, as CI makes).
    for path in (*(d for d in _python_dirs() if _below_tmp(d)), *readable):
        args += ["--ro-bind", path, path]
    for name, fd in files.items():
        args += ["--ro-bind-data", str(fd), f"{SANDBOX_DIR}/{name}"]
    # Read-only last: the root and /dev are writable tmpfs otherwise, and /proc must not be writable
    # (the sandbox's user is root outside when thrifty runs as root, and bubblewrap only covers the
    # /proc entries it finds writable from its own setup, which leaves /proc/sys/kernel/core_pattern).
    args += ["--remount-ro", "/proc", "--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--seccomp", str(seccomp_fd), "--chdir", "/tmp", "--", *argv]
    return args


def probe(limits: SandboxLimits, timeout: float = 20.0) -> str | None:
    """None when a sandbox runs here; otherwise one line saying why not."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if not seccomp.supported():
        return f"no seccomp syscall table for this architecture ({os.uname().machine})"
    fds = [memfd("probe", b"pass\n"), memfd("seccomp", seccomp.deny_filter())]
    argv = [sys.executable, "-I", f"{SANDBOX_DIR}/probe.py"]
    try:
        done = subprocess.run(
            command(bwrap, {"probe.py": fds[0]}, fds[1], limits, argv),
            pass_fds=fds,
            capture_output=True,
            timeout=timeout,
            env={"PATH": "/usr/bin:/bin"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start: {exc}"
    finally:
        for fd in fds:
            os.close(fd)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"]
        return f"bubblewrap cannot create a sandbox here: {lines[-1]}"
    return None


def readable_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Absolute, existing folders or files the code may read (a missing one is a caller's mistake)."""
    out = []
    for p in paths:
        path = Path(p).resolve()
        if not path.exists():
            raise ConfigError("read_only", f"no such file or folder: {p}")
        out.append(str(path))
    return out
