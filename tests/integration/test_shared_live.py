"""Two ``thrifty ask`` processes in a row share one real embedded llama-server, which then stops itself.

A private cache directory (its ``models`` linked to the real assembled GGUF, so nothing is
re-assembled) keeps this test from attaching to a server some other thrifty on the machine runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import survivors, with_cmdline
from thrifty.backends.embedded import assemble_model
from thrifty.errors import BackendUnavailable

pytestmark = pytest.mark.live_model
ROOT = Path(__file__).resolve().parents[2]


def ask(env: dict[str, str], index: Path) -> dict:
    argv = [sys.executable, "-m", "thrifty.cli", "ask", "Say hello.", "--no-tools", "--tool-protocol", "text"]
    argv += ["--budget", "tokens=2000", "--max-step-tokens", "32", "--index", str(index), "--json", "--no-trace"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 3, 4), done.stderr
    return json.loads(done.stdout)


def published(servers: Path) -> dict:
    states = [json.loads(p.read_text()) for p in servers.glob("*.json") if not p.name.endswith(".launch.json")]
    assert len(states) == 1, states
    return states[0]


def test_two_sequential_asks_reuse_one_server_that_then_stops_when_idle(
    tmp_path: Path, default_index_path: Path
) -> None:
    try:
        model = assemble_model()
    except BackendUnavailable as exc:
        if os.environ.get("THRIFTY_REQUIRE_LIVE") == "1":
            pytest.fail(f"embedded model required but unavailable: {exc}")
        pytest.skip(f"embedded model unavailable: {exc}")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(model.parent, target_is_directory=True)
    env = {**os.environ, "THRIFTY_CACHE_DIR": str(cache), "THRIFTY_SERVER_IDLE": "4"}
    env.pop("THRIFTY_BASE_URL", None)
    servers = cache / "servers"

    first = ask(env, default_index_path)
    assert first["usage"]["requests"] >= 1
    server = published(servers)
    supervisors = with_cmdline(str(servers))
    assert len(supervisors) == 1  # it outlived the ask that started it

    second = ask(env, default_index_path)
    assert second["usage"]["requests"] >= 1
    assert published(servers) == server  # the same supervisor, the same port
    assert len(list((cache / "logs").glob("llama-server-*.log"))) == 1  # one server was ever started

    deadline = time.monotonic() + 60
    while any(servers.glob("*[0-9a-f].json")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not survivors(supervisors, within=20.0)  # idle: it stopped itself, and the model server with it
