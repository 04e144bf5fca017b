"""Attachment readers on real files made with the same well-kept libraries (and a hand-built PDF)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.errors import ToolError
from thrifty.tools.base import ToolContext
from thrifty.tools.files import ReadFileTool, read_file


def make_pdf(path: Path, text: str) -> None:
    stream = f"BT /F1 18 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


def test_pdf(tmp_path: Path) -> None:
    make_pdf(tmp_path / "a.pdf", "Total revenue 4242")
    assert "Total revenue 4242" in read_file(tmp_path / "a.pdf")


def test_xlsx(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    sheet.append(["item", "units"])
    sheet.append(["apples", 17])
    book.save(tmp_path / "s.xlsx")
    text = read_file(tmp_path / "s.xlsx")
    assert "[sheet Sales]" in text and "apples\t17" in text


def test_docx_with_table(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Minutes of the meeting")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "budget", "300"
    document.save(tmp_path / "m.docx")
    text = read_file(tmp_path / "m.docx")
    assert "Minutes of the meeting" in text and "budget\t300" in text


def test_csv_json_text(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "d.json").write_text(json.dumps({"k": [1, 2]}))
    (tmp_path / "n.md").write_text("# Title\nbody")
    assert read_file(tmp_path / "t.csv") == "a\tb\n1\t2"
    assert '"k": [' in read_file(tmp_path / "d.json")
    assert read_file(tmp_path / "n.md").startswith("# Title")


def test_unsupported_corrupt_and_capped(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\0")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    (tmp_path / "big.txt").write_text("y" * 50_000)
    with pytest.raises(ToolError, match="unsupported"):
        read_file(tmp_path / "x.bin")
    with pytest.raises(ToolError, match=r"could not read bad\.pdf"):
        read_file(tmp_path / "bad.pdf")
    assert "truncated" in read_file(tmp_path / "big.txt", max_chars=100)


async def test_tool_is_confined_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine")
    tool = ReadFileTool(tmp_path)

    async def no_model(request: object) -> object:
        raise AssertionError

    ctx = ToolContext(complete=no_model)  # type: ignore[arg-type]
    assert (await tool.run({"path": "ok.txt"}, ctx)).content == "fine"
    with pytest.raises(ToolError, match="outside"):
        await tool.run({"path": "../../etc/passwd"}, ctx)
    with pytest.raises(ToolError, match=r"available: ok\.txt"):
        await tool.run({"path": "missing.pdf"}, ctx)
