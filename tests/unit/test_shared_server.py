"""The machine-wide shared model server: discovery, reuse, the start race, stale files, idle shutdown.

Real processes throughout: a real supervisor (detached, as in use) runs a stand-in llama-server
(tests/fixtures/fake_llama_server.py, a tiny HTTP server); the model is the only fake.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import alive, survivors, with_cmdline
from thrifty.backends.shared import Launch, shared_server
from thrifty.errors import BackendUnavailable

ROOT = Path(__file__).resolve().parents[2]
FAKE = ROOT / "tests" / "fixtures" / "fake_llama_server.py"
CLIENT = """
import asyncio, json, sys
from pathlib import Path
from thrifty.backends.shared import Launch, shared_server
spec = json.loads(sys.argv[1])
launch = Launch(**{**spec, "command": tuple(spec["command"])})
async def main():
    async with shared_server(launch, Path(sys.argv[2])) as url:
        print(url, flush=True)
        await asyncio.sleep(float(sys.argv[3]))
asyncio.run(main())
"""


def fake_launch(*, idle: float = 30.0, model: str = "m1", flags: tuple[str, ...] = ()) -> Launch:
    return Launch(
        command=(sys.executable, str(FAKE), "--port", "{port}", "--alias", "fake-model", *flags),
        identity={"model": model, "sha256": "0" * 64, "runtime": "fake"},
        alias="fake-model",
        idle=idle,
        startup_timeout=20.0,
    )


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private servers directory; every supervisor started under it is ended (by pid) afterwards."""
    monkeypatch.setenv("THRIFTY_CACHE_DIR", str(tmp_path / "cache"))
    directory = tmp_path / "servers"
    directory.mkdir()
    yield directory
    for pid, _ in with_cmdline(str(directory)):
        os.kill(pid, signal.SIGTERM)
    assert not survivors(with_cmdline(str(directory)), within=10.0)


def user(launch: Launch, servers: Path, hold: float) -> subprocess.Popen[str]:
    """Another thrifty process that uses the shared server for ``hold`` seconds, printing its URL."""
    spec = {k: getattr(launch, k) for k in ("identity", "alias", "idle", "startup_timeout")}
    spec["command"] = list(launch.command)
    argv = [sys.executable, "-c", CLIENT, json.dumps(spec), str(servers), str(hold)]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def state(directory: Path, launch: Launch) -> dict:
    return json.loads((directory / f"{launch.key}.json").read_text())


async def chat_count(url: str) -> int:
    async with httpx.AsyncClient() as client:
        await client.post(url + "/chat/completions", json={"messages": []})
        return int((await client.get(url.removesuffix("/v1") + "/count")).json()["count"])


async def gone(url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                await client.get(url.removesuffix("/v1") + "/health")
            except httpx.TransportError:  # refused, or dropped mid-shutdown
                return True
            await asyncio.sleep(0.1)
    return False


async def test_sequential_users_reuse_one_server(servers: Path) -> None:
    launch = fake_launch()
    async with shared_server(launch, servers) as first:
        assert await chat_count(first) == 1
        pid = state(servers, launch)["pid"]
    async with shared_server(launch, servers) as second:
        assert second == first
        assert await chat_count(second) == 2  # the same process answered both
    assert state(servers, launch)["pid"] == pid
    assert len(with_cmdline(str(servers))) == 1


async def test_idle_server_stops_itself_and_the_next_user_starts_a_new_one(servers: Path) -> None:
    launch = fake_launch(idle=0.5)
    async with shared_server(launch, servers) as url:
        supervisor = next(iter(with_cmdline(str(servers))))
        await asyncio.sleep(1.2)  # longer than the idle timeout, but in use: it must stay
        assert await chat_count(url) == 1
    assert await gone(url, within=10.0)
    assert not survivors({supervisor}, within=5.0)
    assert not (servers / f"{launch.key}.json").exists()
    async with shared_server(launch, servers) as again:
        assert await chat_count(again) == 1  # a fresh server


def test_two_first_starts_at_once_end_with_one_server(servers: Path) -> None:
    launch = fake_launch()
    users = [user(launch, servers, 1.0) for _ in range(2)]
    urls = {u.communicate(timeout=60)[0].strip() for u in users}
    assert all(u.returncode == 0 for u in users)
    assert len(urls) == 1 and urls.pop().startswith("http://127.0.0.1:")
    assert len(with_cmdline(str(servers))) == 1


async def test_a_user_killed_mid_use_does_not_keep_the_server_alive(servers: Path) -> None:
    launch = fake_launch(idle=0.3)
    holder = user(launch, servers, 600)
    assert holder.stdout is not None
    url = (await asyncio.to_thread(holder.stdout.readline)).strip()
    await asyncio.sleep(1.0)
    assert not await gone(url, within=0.2)  # leased: stays up past its idle timeout
    holder.kill()  # no cleanup code runs; the kernel drops its lease
    holder.communicate()
    assert await gone(url, within=10.0)


async def test_a_stale_state_file_from_a_dead_supervisor_is_replaced(servers: Path) -> None:
    launch = fake_launch()
    stale = {"pid": dead_pid(), "port": 9, "identity": dict(launch.identity)}
    (servers / f"{launch.key}.json").write_text(json.dumps(stale))
    async with shared_server(launch, servers) as url:
        assert await chat_count(url) == 1
        assert state(servers, launch)["pid"] != stale["pid"]


async def test_a_torn_state_file_is_replaced(servers: Path) -> None:
    launch = fake_launch()
    (servers / f"{launch.key}.json").write_text('{"pid": 12')
    async with shared_server(launch, servers) as url:
        assert await chat_count(url) == 1


async def test_another_model_or_runtime_gets_its_own_server(servers: Path) -> None:
    one, other = fake_launch(model="m1"), fake_launch(model="m2")
    assert one.key != other.key
    async with shared_server(one, servers) as a, shared_server(other, servers) as b:
        assert a != b
        assert await chat_count(a) == 1 and await chat_count(b) == 1


async def test_a_published_server_that_stopped_answering_is_replaced(servers: Path) -> None:
    launch = fake_launch()
    async with shared_server(launch, servers) as url:
        supervisor = next(iter(with_cmdline(str(servers))))
        server = next(p for p in with_cmdline(str(FAKE)) if alive(p))
    os.kill(server[0], signal.SIGSTOP)  # alive, but answers nothing (a hung model server)
    async with shared_server(launch, servers) as again:
        assert again != url and await chat_count(again) == 1
    assert not survivors({supervisor, server}, within=20.0)  # the hung one was told to go, and went


async def test_a_server_that_cannot_start_is_a_clear_error_with_its_log(servers: Path) -> None:
    with pytest.raises(BackendUnavailable, match=r"did not start(.|\n)*cannot load model"):
        async with shared_server(fake_launch(flags=("--fail",)), servers):
            pass
    assert not with_cmdline(str(servers))


async def test_a_slow_loading_server_is_waited_for(servers: Path) -> None:
    async with shared_server(fake_launch(flags=("--slow-start", "1.0")), servers) as url:
        assert await chat_count(url) == 1


async def test_a_server_that_dies_is_noticed_and_the_next_user_starts_another(servers: Path) -> None:
    launch = fake_launch()
    async with shared_server(launch, servers) as url:
        supervisor = next(iter(with_cmdline(str(servers))))
        server = next(p for p in with_cmdline(str(FAKE)) if alive(p))
        os.kill(server[0], signal.SIGKILL)
    assert not survivors({supervisor}, within=10.0)
    async with shared_server(launch, servers) as again:
        assert await chat_count(again) == 1
        assert again != url or state(servers, launch)["pid"] != supervisor[0]
