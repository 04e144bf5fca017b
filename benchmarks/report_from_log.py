"""Regenerate a benchmark's tables and report from its per-run log, so RESULTS.md and the committed
report show the same numbers (both come from here, with the same task filter the benchmark used).

Run: python benchmarks/report_from_log.py strategies   (benchmarks/strategies-log.jsonl -> benchmarks/sweep/)
     python benchmarks/report_from_log.py particles    (benchmarks/particles-log.jsonl -> benchmarks/particles/)

Rows are per run (the log's header hash; version-1 logs, written before run headers existed, form the
run "v1"), restricted to the tasks of the benchmark's command, with Wilson 95 % intervals.
"""

from __future__ import annotations

import argparse
from importlib import resources
from itertools import islice
from pathlib import Path

from thrifty.evals.log import EvalLog, load_log
from thrifty.evals.math_tasks import generate_math
from thrifty.evals.report import markdown, summarize
from thrifty.evals.tasks import read_tasks
from thrifty.viewer.report import write_report

BENCHMARKS = {
    # name: (log, report folder, title, task ids of the command recorded in RESULTS.md)
    "strategies": (
        "benchmarks/strategies-log.jsonl",
        "benchmarks/sweep",
        "Strategies on the offline sample tasks (embedded Qwen2.5-Coder-0.5B)",
        4,
    ),
    "particles": (
        "benchmarks/particles-log.jsonl",
        "benchmarks/particles",
        "Particle filtering vs baselines on the offline math set",
        8,
    ),
}


def task_ids(name: str, count: int) -> set[str]:
    if name == "particles":
        return {t.id for t in generate_math(count, 0)}
    sample = resources.files("thrifty.evals").joinpath("data/sample_tasks.jsonl")
    with resources.as_file(sample) as path:
        return {t.id for t in islice(read_tasks(path), count)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    log_path, out, title, count = BENCHMARKS[args.benchmark]
    log = load_log(Path(log_path))
    ids = task_ids(args.benchmark, count)
    rows = summarize(s for s in log.samples if s.task_id in ids)
    outside = sum(1 for s in log.samples if s.task_id not in ids)
    print(markdown(rows))
    print(
        f"\n{len(log.samples)} samples in the log, {outside} outside the command's {count} tasks (left out), "
        f"{log.skipped} unreadable lines skipped"
    )
    ours = EvalLog(log.headers, [s for s in log.samples if s.task_id in ids])
    write_report(rows, Path(out), title=title, log=ours, log_folder=Path(log_path).parent)


if __name__ == "__main__":
    main()
