"""The house rules that ruff does not check: no module over 400 lines, no function over 50, no
formatter skip marker (``fmt`` and ``skip`` joined by a colon): packing code onto long lines defeats
the formatter and hides repetition.

A function's length is its whole extent (``end_lineno - lineno + 1``: signature, docstring, body).
Run: ``python scripts/check_house.py [PATH ...]`` (default: thrifty tests benchmarks examples scripts); it
prints one line per breach and exits 1 if there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
DEFAULT_ROOTS = ("thrifty", "tests", "benchmarks", "examples", "scripts")
_MARKER = "fmt: " + "skip"  # spelled apart so this file does not flag itself


def breaches(path: Path) -> Iterator[str]:
    """Each rule ``path`` breaks, as ``path:line: what``."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    if len(lines) > MAX_MODULE_LINES:
        yield f"{path}:1: module has {len(lines)} lines (at most {MAX_MODULE_LINES})"
    for number, line in enumerate(lines, 1):
        if _MARKER in line:
            yield f"{path}:{number}: '# {_MARKER}' (let ruff format lay the code out)"
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield f"{path}:{node.lineno}: function {node.name} has {length} lines (at most {MAX_FUNCTION_LINES})"


def python_files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        yield from [root] if root.is_file() else sorted(root.rglob("*.py"))


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path(r) for r in DEFAULT_ROOTS if Path(r).exists()]
    found = [line for path in python_files(roots) for line in breaches(path)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
