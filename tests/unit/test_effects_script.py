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
    assert "N = 1" not in text and "Tokens vs self-consistency" not in text  # no SC cell to compare with
    assert "Small n" not in text and "Plan-and-Budget" not in text


def test_calibration_marks_the_levels_inside_the_band() -> None:
    effects = _script()
    samples = [*cell("greedy", "L2", 80, 100), *cell("greedy", "L3", 45, 100), *cell("greedy", "L10", 10, 100)]
    lines = effects.calibration_table(samples).splitlines()
    rows = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    assert [r.split(" | ")[0] for r in rows] == ["| 2", "| 3", "| 10"]  # numeric order, not text order
    assert [r.rsplit(" | ", 1)[1] for r in rows] == ["no |", "yes |", "no |"]


def test_calibration_baseline_is_greedy_for_math_and_react_with_units_for_tools() -> None:
    effects = _script()
    math = effects.calibration_condition("particles", 4, 5000, 3)
    tools = effects.calibration_condition("tracker", 2, 5000, 3)
    assert (math.strategy, math.budget_label, math.limits.tools) == ("greedy", "L4", {})
    assert (tools.strategy, tools.budget_label, tools.limits.tools) == ("react", "L2", {"search": 3, "browse": 3})


def test_particle_conditions_take_a_subset_of_methods_and_counts() -> None:
    effects = _script()
    picked = effects.particle_conditions([2, 4], 1000, ["greedy", "pf"])
    assert [(c.strategy, c.budget_label, c.limits.total_tokens) for c in picked] == [
        ("greedy", "1", 1000),
        ("pf:2", "2", 2000),
        ("pf:4", "4", 4000),
    ]
    assert all(c.strategy != "greedy" for c in effects.particle_conditions([4], 1000, ["epf"]))


def test_report_pages_hold_the_curves_and_every_sample(tmp_path: Path) -> None:
    effects = _script()
    path = tmp_path / "log.jsonl"
    log = open_log(path)
    for s in [*cell("pf:2", "2", 3, 5), *cell("best-of-n:2", "2", 1, 5)]:
        append(log, s)
    log.close()
    log = effects.load_logs([path])
    text = effects.curves(log)
    assert text == effects.report([path])
    written = effects.write_pages(log, tmp_path / "out", text, tmp_path)
    assert (tmp_path / "out" / "effects.md").read_text(encoding="utf-8").endswith(text + "\n")
    page = next(p for p in written if p.name == "report.html").read_text(encoding="utf-8")
    assert "pf:2" in page and "best-of-n:2" in page


def test_particle_cost_is_read_against_self_consistency_at_the_same_n(tmp_path: Path) -> None:
    effects = _script()
    path = tmp_path / "log.jsonl"
    log = open_log(path)
    sc = cell("self-consistency:2", "2", 30, 100)  # 1,000 tokens per task
    pf = [SampleLog(**{**vars(s), "strategy": "pf:2", "usage": {**s.usage, "input_tokens": 2900}}) for s in sc]
    cached = {**sc[0].usage, "input_tokens": 2900, "cached_tokens": 2000}  # 3,000 sent, 1,000 computed
    by_certainty = [SampleLog(**{**vars(s), "strategy": "pf-certainty:2", "usage": cached}) for s in sc]
    for s in [*cell("greedy", "1", 30, 100), *sc, *pf, *by_certainty]:
        append(log, s)
    log.close()
    text = effects.report([path])
    assert "Tokens vs self-consistency: pf ×3.0 (uncached ×3.0), pf-certainty ×3.0 (uncached ×1.0)." in text
    assert "| pf-certainty:2 | 2 | 0.30 (0.22–0.40), n=100 | 3,000 | 1,000 |" in text and "N = 1" not in text


def test_certainty_methods_are_particle_filters_scored_by_their_own_logprobs() -> None:
    from thrifty.agents.particles import ParticleFilterStrategy, SelfCertaintyPRM

    effects = _script()
    pf, epf = (c.strategy for c in effects.particle_conditions([4], 1000, ["pf-certainty", "epf-certainty"]))
    assert isinstance(pf, ParticleFilterStrategy) and isinstance(epf, ParticleFilterStrategy)
    assert isinstance(pf.prm, SelfCertaintyPRM) and isinstance(epf.prm, SelfCertaintyPRM)
    assert (pf.name, epf.name, pf.settings.particles) == ("pf-certainty:4", "epf-certainty:4", 4)
    assert epf.settings.annealing == "ess" and pf.settings.annealing != "ess"


def test_the_dial_and_calibration_cells_are_not_read_as_particle_cells(tmp_path: Path) -> None:
    """The thinking effect runs greedy under budget labels none/low/…, calibration under L1, L2 …:
    neither is a particle count, so neither shows in the particles table."""
    effects = _script()
    path = tmp_path / "log.jsonl"
    log = open_log(path)
    for s in [*cell("greedy", "none", 3, 5), *cell("greedy", "low", 2, 5), *cell("greedy", "L1", 2, 5)]:
        append(log, s)
    log.close()
    assert "Particle filtering" not in effects.report([path])
    log = open_log(path)
    append(log, cell("greedy", "1", 1, 1)[0])
    log.close()
    assert "| greedy | 1 |" in effects.report([path]) and "| greedy | low |" not in effects.report([path])


def test_the_thinking_curve_pairs_each_level_with_none_on_the_same_tasks() -> None:
    """Levels come from each run's loop config; a level's paired column counts the tasks only it and
    only ``none`` got right (the same tasks, so shared difficulty cancels) with the exact McNemar p."""
    from dataclasses import replace

    from thrifty.evals.log import RunHeader

    effects = _script()
    headers = {}
    samples = []
    for level, right in (("none", {0, 1, 2, 3}), ("low", {2, 3, 4})):
        header = RunHeader("m", [], "greedy", {}, level, {}, {"thinking": level}, "0", "")
        headers[header.run] = header
        samples += [replace(s, run=header.run, correct=i in right) for i, s in enumerate(cell("greedy", level, 0, 10))]
    text = effects.thinking_curve(samples, headers)
    assert "| none | 0.40 (0.17–0.69), n=10 | 0 | – |" in text
    assert "| low | 0.30 (0.11–0.60), n=10 | 0 | 1 / 2, p = 1.00 |" in text
    assert "not monotone" in text
