"""Where thrifty keeps files it builds (assembled model weights, indexes, server logs)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$THRIFTY_CACHE_DIR``, else ``$XDG_CACHE_HOME/thrifty``, else ``~/.cache/thrifty``."""
    if env := os.environ.get("THRIFTY_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "thrifty"
