"""The supervisor of a shared embedded model server: starts it, publishes it, stops it when idle.

Run as a plain script (``python -I -S supervisor.py LAUNCH.json``), never imported into the
supervisor process as part of thrifty: it uses the standard library only, so a server that idles
for minutes costs one small process, not a thrifty import. It lives in its own session, outliving
the ``thrifty`` process that started it; the model server is its child and dies with it however it
ends (``PR_SET_PDEATHSIG``, as :mod:`thrifty.children` does for thrifty's own children).

Protocol (files in the launch's directory, all named by the launch key; see
:mod:`thrifty.backends.shared` for the client side):

- ``KEY.lock``: ``flock`` held exclusively by whoever reads or changes the state below.
- ``KEY.json``: the published state (supervisor pid, port, identity), written once the server is
  healthy, removed when it stops.
- ``KEY.lease``: each user holds a shared ``flock`` on it while it uses the server and touches its
  mtime when it lets go. Idle means: no user holds it and its mtime is older than the idle timeout.
  A user that dies drops its lock with it, so a crashed ``thrifty ask`` never keeps a server alive.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_us() -> None:
    """``preexec_fn`` of the model server: the kernel kills it when this supervisor ends."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _healthy(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2.0) as r:
            return int(r.status) == 200
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Supervisor:
    def __init__(self, launch_path: Path) -> None:
        self.launch: dict[str, Any] = json.loads(launch_path.read_text())
        base = launch_path.parent / str(self.launch["key"])
        self.lock_path = base.with_suffix(".lock")
        self.state_path = base.with_suffix(".json")
        self.lease_path = base.with_suffix(".lease")
        self.idle = float(self.launch["idle"])
        self.started = time.time()
        self.server: subprocess.Popen[bytes] | None = None
        self.published = False

    def start(self) -> int:
        """Start the server, wait until healthy, publish it; returns the port (raises when it fails)."""
        port = _free_port()
        command = [arg.replace("{port}", str(port)) for arg in self.launch["command"]]
        log_path = Path(str(self.launch["server_log"]).replace("{port}", str(port)))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.server = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.launch["env"]},
                preexec_fn=_die_with_us,
            )
        deadline = time.monotonic() + float(self.launch["startup_timeout"])
        while not _healthy(port, str(self.launch["health_path"])):
            if self.server.poll() is not None:
                code = self.server.returncode
                raise SystemExit(f"model server exited with code {code}; log {log_path}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise SystemExit(f"model server not healthy after {self.launch['startup_timeout']}s; log {log_path}")
            time.sleep(0.2)
        state = {"pid": os.getpid(), "port": port, "identity": self.launch["identity"], "log": str(log_path)}
        _write_json(self.state_path, state)
        self.published = True
        print(f"serving on port {port} (pid {self.server.pid}), idle timeout {self.idle:g}s", flush=True)
        return port

    def idle_expired(self) -> bool:
        """Under the lock: no user holds a lease and none let go within the idle timeout."""
        with open(self.lock_path, "a+b") as lock, open(self.lease_path, "a+b") as lease:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # somebody is using the server
            last = max(self.started, os.stat(self.lease_path).st_mtime)
            if time.time() - last < self.idle:
                return False
            self.unpublish()  # still under the lock: no user can pick the server up from here on
            return True

    def unpublish(self) -> None:
        if not self.published:
            return
        self.published = False
        try:
            if json.loads(self.state_path.read_text()).get("pid") == os.getpid():
                self.state_path.unlink()
        except (OSError, ValueError):
            pass

    def watch(self) -> int:
        """Until idle (exit 0) or the server dies (exit 1)."""
        assert self.server is not None
        poll = min(5.0, max(0.2, self.idle / 10))
        while self.server.poll() is None:
            time.sleep(poll)
            if self.idle_expired():
                print("idle: stopping", flush=True)
                return 0
        print(f"model server exited with code {self.server.returncode}", flush=True)
        return 1

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is None or server.poll() is not None:
            return
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def _lock_briefly(lock: Any, seconds: float = 5.0) -> None:
    """The lock if it comes within ``seconds``; else go on without it (a client that reads the state
    meanwhile finds this pid gone and treats the state as stale)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.05)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    supervisor = Supervisor(Path(argv[1]))
    try:
        supervisor.start()
        return supervisor.watch()
    finally:
        if supervisor.published:
            with open(supervisor.lock_path, "a+b") as lock:
                _lock_briefly(lock)
                supervisor.unpublish()
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
