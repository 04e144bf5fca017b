"""benchmarks/effects.py: each curve and its verdict come from eval logs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from thrifty.evals.log import SampleLog, append, open_log
from thrifty.evals.report import summarize

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "effects.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("effects", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cell(strategy: str, budget: str, correct: int, n: int, units: int = 1) -> list[SampleLog]:
    usage = {"input_tokens": 900, "output_tokens": 100, "tool_units": {"search": units}}
    return [
        SampleLog(f"t{i}", strategy, budget, "q", "a", "a", i < correct, "answered", None, usage, 0.001 * units, 1.0)
        for i in range(n)
    ]


def test_verdicts_follow_the_intervals() -> None:
    effects = _script()
    strong, weak, near = (summarize(cell("s", "1", k, 100))[0] for k in (80, 20, 75))
    assert effects.direction(strong, weak) == "reproduces"
    assert effects.direction(weak, strong) == "opposite"
    assert effects.direction(strong, near) == "within noise: not resolved at n = 100"
    assert effects.direction(strong, None) == "not measured"


def test_report_reads_the_curves_from_logs(tmp_path: Path) -> None:
    effects = _script()
    path = tmp_path / "log.jsonl"
    log = open_log(path)
    samples = [*cell("tracker", "2", 60, 100, 2), *cell("react", "2", 30, 100, 2), *cell("react", "6", 50, 100, 5)]
    samples += [*cell("pf:4", "4", 30, 100), *cell("epf:4", "4", 50, 100), *cell("best-of-n:4", "4", 10, 100)]
    for s in samples:
        append(log, s)
    log.close()
    text = effects.report([path])
    assert "B = 2: tracker@B > react@B: reproduces; tracker@B ≥ react@3B: within noise" in text
    assert "N = 4: PF > best-of-N: reproduces; ePF > PF: reproduces." in text
    assert "Small n" not in text and "Plan-and-Budget" not in text
