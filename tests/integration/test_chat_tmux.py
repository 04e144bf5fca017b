"""`thrifty chat` in a real terminal: tmux types the keys and reads the screen; the model is the real embedded one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.live_model


class Terminal:
    def __init__(self, command: list[str]) -> None:
        self.name = f"thrifty-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "150", "-y", "50", *command], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-S", "-200", "-t", self.name], capture_output=True, text=True
        )
        return out.stdout

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} (x{count}) never appeared; screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def terminal(embedded_server: str, tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    script = tmp_path / "chat.sh"
    # Keep the pane open after exit so the test can read the last screen.
    script.write_text(
        f"{sys.executable} -m thrifty.cli chat --no-tools --base-url {embedded_server} "
        f"--tool-protocol text --budget tokens=4000; echo CHAT-EXITED $?; sleep 60\n"
    )
    term = Terminal(["bash", str(script)])
    try:
        yield term
    finally:
        term.close()


def test_chat_in_a_real_terminal(terminal: Terminal) -> None:
    screen = terminal.wait_for("you>")
    assert "· strategy tracker · thinking model default" in screen  # the banner: model, strategy, dial
    terminal.keys("/budget", "Enter")
    terminal.wait_for("per-turn budget: tokens=4000")

    terminal.keys("What is 2 + 2? Answer with the number only.", "Enter")
    screen = terminal.wait_for("session: 1 turns")  # an answer panel, then the session's spend
    assert "answer" in screen and "stop:" in screen
    assert "step 1 · model:" in screen  # the turn's steps stay on screen, one line each

    # Ctrl-C while the model is working cancels that turn only.
    terminal.keys("Write a long story about a lighthouse keeper.", "Enter")
    time.sleep(1.0)
    terminal.keys("C-c")
    terminal.wait_for("turn cancelled")
    terminal.wait_for("you>", count=3)
    terminal.keys("/budget", "Enter")
    screen = terminal.wait_for("per-turn budget", count=2)
    assert "session: 2 turns (1 cancelled)" in screen  # the session survived and counts the cancelled turn

    terminal.keys("/quit", "Enter")
    terminal.wait_for("CHAT-EXITED 0")
