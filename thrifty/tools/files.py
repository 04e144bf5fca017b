"""Readers for task attachments (GAIA-style): pdf, xlsx, csv/tsv, docx, txt/md/json.

``read_file`` is confined to one attachments folder (no path escapes) and caps what it returns.
Format libraries are optional (``pip install "thrifty[files]"``: pypdf, openpyxl, python-docx) and
imported only when such a file is read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from thrifty.errors import ToolError
from thrifty.tools.typed import TypedTool

FileName = Annotated[str, Field(description="File name relative to the attachments.")]

MAX_ROWS = 200


def _need(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ToolError(f'reading this file needs the {module!r} package: pip install "thrifty[files]"') from None


def read_pdf(path: Path) -> str:
    pypdf = _need("pypdf")
    reader = pypdf.PdfReader(str(path))
    return "\n\n".join(f"[page {i}]\n{(p.extract_text() or '').strip()}" for i, p in enumerate(reader.pages, 1))


def read_xlsx(path: Path) -> str:
    openpyxl = _need("openpyxl")
    book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    parts = []
    for sheet in book.worksheets:
        rows = []
        for i, row in enumerate(sheet.iter_rows(values_only=True)):
            if i >= MAX_ROWS:
                rows.append(f"… (more rows; showing {MAX_ROWS})")
                break
            rows.append("\t".join("" if v is None else str(v) for v in row))
        parts.append(f"[sheet {sheet.title}]\n" + "\n".join(rows))
    book.close()
    return "\n\n".join(parts)


def read_delimited(path: Path) -> str:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = []
        for i, row in enumerate(csv.reader(f, delimiter=delimiter)):
            if i >= MAX_ROWS:
                rows.append(f"… (more rows; showing {MAX_ROWS})")
                break
            rows.append("\t".join(row))
    return "\n".join(rows)


def read_docx(path: Path) -> str:
    docx = _need("docx")
    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        parts.extend("\t".join(cell.text for cell in row.cells) for row in table.rows)
    return "\n".join(parts)


def read_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".json":
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    return text


READERS = {
    ".pdf": read_pdf,
    ".xlsx": read_xlsx,
    ".xlsm": read_xlsx,
    ".csv": read_delimited,
    ".tsv": read_delimited,
    ".docx": read_docx,
    ".txt": read_text,
    ".md": read_text,
    ".json": read_text,
    ".jsonl": read_text,
    ".py": read_text,
    ".html": read_text,
    ".xml": read_text,
}


def read_file(path: Path, *, max_chars: int = 20_000) -> str:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ToolError(f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(sorted(READERS))}")
    try:
        text = reader(path)
    except ToolError:
        raise
    except Exception as exc:  # a corrupt attachment is the model's to hear about
        raise ToolError(f"could not read {path.name}: {type(exc).__name__}: {exc}") from exc
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n… (truncated at {max_chars} characters)"
    return text


class ReadFileTool(TypedTool):
    """``read_file(path)``: read an attachment from ``root`` (paths may not leave it)."""

    def __init__(self, root: Path, *, max_chars: int = 20_000) -> None:
        self.root = root.resolve()
        self.max_chars = max_chars
        super().__init__(
            self.read_file,
            name="read_file",
            description="Read a task attachment (pdf, xlsx, csv, docx, txt, md, json) and return its text.",
        )

    def resolve(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise ToolError(f"{name!r} is outside the attachments folder")
        if not path.is_file():
            available = ", ".join(sorted(p.name for p in self.root.iterdir() if p.is_file())[:20])
            raise ToolError(f"no attachment named {name!r}; available: {available or 'none'}")
        return path

    async def read_file(self, path: FileName) -> str:
        import asyncio

        return await asyncio.to_thread(read_file, self.resolve(path), max_chars=self.max_chars)
