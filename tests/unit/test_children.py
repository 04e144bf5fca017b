"""Every process thrifty starts dies with its owner, however the owner ends.

An owner process starts a managed server (``sleep`` stands in for llama-server, through the same
``ManagedServer.start``), a python sandbox running a long sleep and an MCP stdio server (the test
fixture) stuck in a call that blocks it whole, then ends one way or another; the test records every
process below the owner while it runs and finds none left afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.processes import Proc, descendants, survivors
from thrifty.backends.process import ManagedServer, free_port
from thrifty.children import spawn

OWNER = textwrap.dedent("""\
    import asyncio, os, signal, sys, time
    from pathlib import Path
    from thrifty.backends.process import ManagedServer, free_port
    from thrifty.tools.mcp import mcp_tools
    from thrifty.tools.python import PythonTool

    how, folder, mcp_server = sys.argv[1], Path(sys.argv[2]), sys.argv[4]

    async def main():
        server = ManagedServer(["sleep", "300"], port=free_port(), log_path=folder / "server.log")
        server.start()
        tool = PythonTool(timeout_seconds=300, unsafe_no_sandbox=sys.argv[3] == "unsafe")
        call = asyncio.create_task(tool.execute("import time\\nprint('started', flush=True)\\ntime.sleep(300)"))
        async with mcp_tools(f"{sys.executable} {mcp_server} stdio") as tools:
            block = next(t for t in tools if t.spec.name == "block")  # deaf even to its stdin closing
            asyncio.create_task(block.run({}, None))
            await asyncio.sleep(0.3)
            print("ready", flush=True)
            stdin = asyncio.StreamReader()  # wait, awaiting like thrifty does, for the test to say "go"
            await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
            await stdin.readline()
            if how == "exception":
                raise RuntimeError("the owner failed")
            if how == "exit":  # a normal end that stops nothing itself: asyncio.run cancels the calls
                return
            await call

    asyncio.run(main())
""")

WAYS = ["exit", "exception", "sigterm", "sigint", "sigkill"]
MCP_SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "mcp_server.py"


def _sandbox_kind() -> str:
    from thrifty.tools import sandbox

    return "sandboxed" if sandbox.probe(sandbox.SandboxLimits(1 << 30, 10, 1 << 24, 1 << 26)) is None else "unsafe"


def _all_started(owner: int, expected: int) -> set[Proc]:
    """The server, the MCP server and bubblewrap, its init and the sandboxed python (or the python alone)."""
    deadline = time.monotonic() + 20
    while len(found := descendants(owner)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(found) >= expected, f"expected {expected} processes below the owner, found {found}"
    return found


@pytest.mark.parametrize("how", WAYS)
def test_children_die_with_their_owner(how: str, tmp_path: Path) -> None:
    kind = _sandbox_kind()
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, how, str(tmp_path), kind, str(MCP_SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=root,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == b"ready"
        children = _all_started(owner.pid, expected=5 if kind == "sandboxed" else 3)
        if how.startswith("sig"):
            owner.send_signal({"sigterm": signal.SIGTERM, "sigint": signal.SIGINT, "sigkill": signal.SIGKILL}[how])
        else:
            assert owner.stdin is not None
            owner.stdin.write(b"go\n")
            owner.stdin.flush()
        owner.wait(timeout=30)
    finally:
        owner.kill()
        owner.wait()
        for pipe in (owner.stdin, owner.stdout):
            if pipe is not None:
                pipe.close()
    assert not survivors(children), f"{how}: processes outlived their owner"


def test_spawn_returns_a_working_popen() -> None:
    proc = spawn(["sh", "-c", "echo hi"], stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=30)
    assert (out, proc.returncode) == (b"hi\n", 0)


def test_a_server_started_from_a_short_lived_thread_outlives_the_thread(tmp_path: Path) -> None:
    """The death signal follows the forking *thread*: a server must not die when its starter thread ends."""
    server = ManagedServer(["sleep", "300"], port=free_port(), log_path=tmp_path / "server.log")
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    time.sleep(0.5)
    try:
        assert server.running, "the server died with the thread that started it"
    finally:
        server.stop()
