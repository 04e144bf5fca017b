"""Untrusted text made safe to print on a terminal.

Apart from :mod:`thrifty.display` so the CLI's parser can report a bad flag without importing rich
or the agents (``thrifty --help`` in under 0.15 s, issue 15.8).
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """Model, tool and server text with its control characters made visible (``\\x1b``): an answer must
    not be able to clear the screen, set the window title or write the clipboard (OSC 52).
    rich's ``Text`` strips only a few codes and keeps ESC, so every such string goes through here."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
