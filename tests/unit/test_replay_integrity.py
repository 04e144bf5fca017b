"""Attack suite: replay caches that were edited, damaged, foreign, or shared by several writers."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from thrifty.agents.agent import Agent
from thrifty.backends import ScriptedBackend
from thrifty.errors import ConfigError
from thrifty.replay import RecordingBackend, ReplayCache


async def record(path: Path) -> None:
    cache = ReplayCache(path, "record")
    await Agent(RecordingBackend(ScriptedBackend(["<answer>Paris</answer>"]), cache)).run("Capital of France?")
    cache.close()


async def replay(path: Path) -> str | None:
    cache = ReplayCache(path, "replay")
    try:
        return (await Agent(RecordingBackend(ScriptedBackend([]), cache)).run("Capital of France?")).answer
    finally:
        cache.close()


async def test_an_untouched_recording_replays(tmp_path: Path) -> None:
    await record(tmp_path / "c.sqlite")
    assert await replay(tmp_path / "c.sqlite") == "Paris"


def _edit(path: Path, edit: str) -> None:
    db = sqlite3.connect(path)
    for key, value in db.execute("SELECT key, value FROM calls WHERE kind = 'complete'").fetchall():
        entry = json.loads(value)
        if edit == "answer":
            entry["text"] = "<answer>London</answer>"
        elif edit == "usage":
            entry["usage"]["input_tokens"] = 10_000_000
        elif edit == "garbage":
            entry = "not an entry"
        db.execute("UPDATE calls SET value = ? WHERE key = ?", (json.dumps(entry), key))
    if edit == "digest":
        db.execute("UPDATE calls SET digest = 'x'")
    db.commit()
    db.close()


@pytest.mark.parametrize("edit", ["answer", "usage", "garbage", "digest"])
async def test_an_edited_entry_is_refused(tmp_path: Path, edit: str) -> None:
    path = tmp_path / "c.sqlite"
    await record(path)
    _edit(path, edit)
    with pytest.raises(ConfigError, match="integrity check"):
        await replay(path)


@pytest.mark.parametrize(
    "content",
    [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 2000, b""],
    ids=["text", "torn sqlite header", "empty"],
)
def test_a_file_that_is_not_a_cache_is_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="not a thrifty replay cache") as info:
        ReplayCache(path, "replay")
    assert "\n" not in str(info.value)


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    for mode in ("replay", "auto", "record"):
        with pytest.raises(ConfigError, match="not a thrifty replay cache"):
            ReplayCache(path, mode)  # type: ignore[arg-type]


def test_an_old_cache_without_hashes_says_so(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE calls (key TEXT PRIMARY KEY, kind TEXT, value TEXT)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="older thrifty"):
        ReplayCache(path, "replay")


def test_a_writer_recovers_after_database_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ReplayCache(path, "auto")
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.3, holder.rollback)  # another process holds the lock a moment
    release.start()
    cache.put("a#1", "tool", {"v": 1})  # waits it out instead of failing
    release.join()
    holder.close()
    cache.put("b#1", "tool", {"v": 2})  # and later writes still work
    assert (cache.get("a#1"), cache.get("b#1")) == ({"v": 1}, {"v": 2})
    cache.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            cache = ReplayCache(path, "auto")
            for i in range(25):
                cache.put(f"{name}#{i}", "tool", {"writer": name, "i": i})
            cache.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    cache = ReplayCache(path, "replay")
    assert all(cache.get(f"w{n}#{i}") == {"writer": f"w{n}", "i": i} for n in range(3) for i in range(25))
    cache.close()
