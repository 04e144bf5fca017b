"""Task attachments (GAIA's ``file_name``) reach the agent: the file tool is offered, confined to a
private folder holding only this task's files, and the question names them.

The agent must not see other tasks' files, so each sample gets its own temporary folder with a
copy of its attachments (a hard link when the file system allows it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from thrifty.evals.tasks import Task
from thrifty.tools.base import Tool
from thrifty.tools.files import ReadFileTool


@dataclass(frozen=True)
class Prepared:
    question: str
    tools: list[Tool]


def attachment_note(names: Sequence[str]) -> str:
    listed = ", ".join(names)
    return f"\n\nAttached file{'s' if len(names) > 1 else ''}: {listed}. Read it with the read_file tool."


@contextlib.contextmanager
def with_attachments(task: Task, tools: Sequence[Tool]) -> Iterator[Prepared]:
    """The question and tools for ``task``; attachments, if any, in a folder that lives as long as
    the ``with`` block."""
    files = [Path(p) for p in task.meta.get("attachments", ()) or ()]
    if not files:
        yield Prepared(task.question, list(tools))
        return
    with tempfile.TemporaryDirectory(prefix="thrifty-attach-") as folder:
        root = Path(folder)
        for src in files:
            if not src.is_file():
                raise FileNotFoundError(f"attachment {src} of task {task.id} not found")
            try:
                os.link(src, root / src.name)
            except OSError:
                shutil.copyfile(src, root / src.name)
        offered = [t for t in tools if t.spec.name != "read_file"] + [ReadFileTool(root)]
        yield Prepared(task.question + attachment_note([f.name for f in files]), offered)
