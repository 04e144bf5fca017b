"""The house-rules check (scripts/check_house.py, run by .ci/run) flags exactly what it should."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_house.py"


@pytest.fixture(scope="module")
def house() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_house", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_house"] = module
    spec.loader.exec_module(module)
    return module


def _function(name: str, lines: int) -> str:
    """A function of exactly ``lines`` lines (def line included)."""
    return f"def {name}() -> None:\n" + "    x = 1\n" * (lines - 1)


def test_a_function_of_51_lines_is_flagged_and_one_of_50_is_not(house: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(_function("ok", 50) + "\n\n" + "async " + _function("long", 51))
    found = list(house.breaches(path))
    assert len(found) == 1
    assert "function long has 51 lines" in found[0]


def test_nested_functions_and_methods_are_measured(house: ModuleType, tmp_path: Path) -> None:
    inner = "".join("    " + line + "\n" for line in _function("inner", 51).splitlines())
    path = tmp_path / "m.py"
    path.write_text("class C:\n" + inner)
    assert [line.split(": ", 1)[1] for line in house.breaches(path)] == ["function inner has 51 lines (at most 50)"]


def test_a_module_of_401_lines_and_a_format_marker_are_flagged(house: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    marker = "fmt: " + "skip"
    path.write_text(f"x = [1, 2]  # {marker}\n" + "y = 1\n" * 400)
    found = list(house.breaches(path))
    assert any("module has 401 lines" in line for line in found)
    assert any(line.startswith(f"{path}:1: ") and marker in line for line in found)


def test_main_exits_1_on_a_breach_and_0_when_clean(house: ModuleType, tmp_path: Path) -> None:
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    clean.mkdir()
    dirty.mkdir()
    (clean / "a.py").write_text(_function("f", 50))
    (dirty / "a.py").write_text(_function("f", 51))
    assert house.main([str(clean)]) == 0
    assert house.main([str(dirty)]) == 1


def test_the_default_roots_cover_the_benchmarks_and_they_keep_the_rules(house: ModuleType) -> None:
    root = _SCRIPT.parents[1]
    assert "benchmarks" in house.DEFAULT_ROOTS
    assert [line for path in house.python_files([root / "benchmarks"]) for line in house.breaches(path)] == []
