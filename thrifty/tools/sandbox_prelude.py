"""Runs inside the sandbox before the model's code (started as a script, not imported).

The wall is the OS sandbox around this process (``thrifty/tools/sandbox.py``: namespaces, read-only
binds, seccomp, rlimits). The audit hook installed here is a second layer that turns the commonest
attempts into a clear ``PermissionError: sandbox: ...`` for the model: sockets, new processes, native
libraries, file changes outside the working folder (str, bytes or path-like, through ``open``,
``os.open`` or any ``os``/``shutil`` path call), and the introspection that reaches the hook's state
(``gc`` object walks, trace and profile functions). Its state is a closure over immutable values, and the model's
code runs in a fresh ``__main__`` module, so ``sys.modules['__main__']`` no longer reaches the prelude.
Run with ``--no-audit-hook`` (tests only) the code meets the OS sandbox alone.
"""

from __future__ import annotations

import os
import sys
import types

TYPE_CHECKING = False  # importing typing would slow every sandbox start; mypy reads the name alone
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _events() -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
    """What the hook refuses: events by name, events by prefix, and path events outside the working
    folder. Returned, not module globals: the hook closes over them, out of reach of a frame walk."""
    deny_prefixes = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "ctypes.", "_ctypes.")
    deny = frozenset(
        [
            "os.system",
            "os.fork",
            "os.forkpty",
            "os.kill",
            "os.killpg",
            "pty.spawn",
            "gc.get_objects",
            "gc.get_referrers",
            "gc.get_referents",
            "sys.settrace",
            "sys.setprofile",
            "sys._current_frames",
        ]
    )
    path_events = frozenset(
        [
            "os.remove",
            "os.rename",
            "os.rmdir",
            "os.mkdir",
            "os.symlink",
            "os.link",
            "os.chmod",
            "os.chown",
            "os.truncate",
            "os.utime",
            "os.setxattr",
            "os.removexattr",
            "os.chflags",
            "os.lchflags",
            "shutil.rmtree",
            "shutil.copyfile",
            "shutil.copytree",
            "shutil.move",
            "shutil.chown",
            "shutil.copymode",
            "shutil.copystat",
            "shutil.make_archive",
            "shutil.unpack_archive",
        ]
    )
    return deny, deny_prefixes, path_events


def _make_hook() -> Callable[[str, tuple[Any, ...]], None]:
    folder = os.path.realpath(os.getcwd()) + os.sep
    realpath, fsdecode = os.path.realpath, os.fsdecode
    path_like = (str, bytes, os.PathLike)
    deny, deny_prefixes, path_events = _events()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def inside(path: str | bytes | os.PathLike[Any]) -> bool:
        try:
            return realpath(fsdecode(path)).startswith(folder)
        except (TypeError, ValueError):
            return False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in deny or event.startswith(deny_prefixes):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & write_flags)
            if writing and isinstance(path, path_like) and not inside(path):
                raise PermissionError(f"sandbox: writing outside the working folder is not allowed: {path!r}")
        elif event in path_events:
            for arg in args:
                if isinstance(arg, path_like) and not inside(arg):
                    raise PermissionError(f"sandbox: {event} outside the working folder is not allowed: {arg!r}")

    return hook


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "main.py"), encoding="utf-8") as f:
        code = compile(f.read(), "main.py", "exec")
    module = types.ModuleType("__main__")
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    if "--no-audit-hook" not in sys.argv[1:]:
        sys.addaudithook(_make_hook())
    exec(code, module.__dict__)


main()
