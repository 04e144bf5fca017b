"""The README's Python snippets as written, on the real embedded model and the real corpus index.

The snippets open their own backend (``open_backend()`` / ``open_backend_sync()``); pointing
``$THRIFTY_BASE_URL`` at the session's embedded server makes them attach to it instead of starting
a second model server. tests/unit/test_readme.py runs the same snippets on a scripted backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import README, python_snippets

pytestmark = pytest.mark.live_model


@pytest.mark.parametrize("snippet", python_snippets(), ids=lambda s: s.splitlines()[1][:40])
def test_readme_snippet_runs_on_the_embedded_model(
    snippet: str,
    embedded_server: str,
    default_index_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("THRIFTY_BASE_URL", embedded_server)
    monkeypatch.setenv("THRIFTY_INDEX", str(default_index_path))
    exec(compile(snippet, str(README), "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert any(stop in out for stop in ("answered", "budget_exhausted", "stalled"))  # it printed how it stopped
