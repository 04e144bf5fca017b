"""Runs inside the sandboxed child before the model's code (started as a script, not imported).

An audit hook (which code in the same process cannot remove) refuses sockets, new processes,
native-library loading and file writes outside the working folder. This is defence in depth: the
parent also applies rlimits and, where the kernel allows it, an empty network namespace.
"""

import os
import sys

_CWD = os.path.realpath(os.getcwd())
_DENY_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "ctypes.", "_ctypes.")
_DENY = {"os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "shutil.rmtree"}


def _hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if event in _DENY or event.startswith(_DENY_PREFIXES):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open" and len(args) >= 2:
        path, mode = args[0], args[1]
        writing = isinstance(mode, str) and any(c in mode for c in "wax+")
        if writing and isinstance(path, str) and not os.path.realpath(path).startswith(_CWD + os.sep):
            raise PermissionError(f"sandbox: writing outside the working folder is not allowed: {path}")


def main() -> None:
    with open("main.py", encoding="utf-8") as f:
        source = f.read()
    code = compile(source, "main.py", "exec")
    sys.addaudithook(_hook)
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})


main()
