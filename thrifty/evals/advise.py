"""Which strategy to pick at each budget, read from an eval log (``thrifty advise LOG``).

The question a user has is "for this task set and this budget, what gives me the most accuracy
for my money?". The answer is only as good as the sample, so the rule is deliberately cautious:

1. Per setting (model, task file, budget label), the strategy with the highest accuracy leads.
2. Every strategy whose Wilson 95 % interval overlaps the leader's is *within noise* of it: the
   log cannot tell them apart (overlap is conservative; it errs towards "no difference").
3. Among those, the one with the lowest unified cost per task (BATS: tokens at list price plus
   $0.001 per tool unit) is recommended; when they all cost nothing (a free local model without
   tools), the one with the fewest tokens per task.

Accuracy per dollar (accuracy / $ per task) is shown beside it; it is undefined for free runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from thrifty.evals.log import RunHeader, SampleLog
from thrifty.evals.report import Row, summarize, usd

SMALL_N = 30
"""Below this many tasks per cell an interval is too wide to separate anything but large gaps."""


@dataclass(frozen=True)
class Advice:
    setting: str
    """Model, task file and budget label the strategies were compared on."""
    pick: Row
    leader: Row
    rows: tuple[Row, ...]
    within_noise: tuple[str, ...]
    """Strategies whose interval overlaps the leader's (the leader included)."""
    by_tokens: bool
    """All candidates were free: the pick is by tokens per task, not dollars."""

    def statement(self) -> str:
        """The advice in plain words, including whether the differences are only noise."""
        pick, leader = self.pick, self.leader
        cost = f"{pick.mean_tokens:,.0f} tokens/task" if self.by_tokens else f"${usd(pick.mean_cost_usd)}/task"
        head = (
            f"{self.setting}: pick **{pick.strategy}** (accuracy {pick.accuracy:.2f}, "
            f"95% CI {pick.ci_low:.2f}–{pick.ci_high:.2f}, n={pick.n}; {cost})."
        )
        others = [s for s in self.within_noise if s != pick.strategy]
        if len(self.rows) == 1:
            tail = " It is the only strategy run at this budget."
        elif len(self.within_noise) == len(self.rows):
            why = "all strategies are within noise of each other (their intervals overlap)"
            tail = f" {why[0].upper()}{why[1:]}, so the cheapest is the pick."
        elif pick.strategy == leader.strategy and not others:
            tail = " It leads, and its interval clears every other strategy's: the difference is not noise."
        else:
            tail = (
                f" {leader.strategy} has the highest accuracy ({leader.accuracy:.2f}), but "
                f"{', '.join(others) if pick.strategy == leader.strategy else pick.strategy} "
                "is within noise of it and costs less."
            )
        if min(r.n for r in self.rows) < SMALL_N:
            tail += f" Small sample (n < {SMALL_N} in some cell): only large differences would show."
        return head + tail


def _overlaps(a: Row, b: Row) -> bool:
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def _setting(header: RunHeader | None, budget: str) -> tuple[str, float, str]:
    """(model and task file, the budget as a number for ordering, the budget label)."""
    prefix = "" if header is None else f"{header.model} · tasks {header.tasks_sha256[:8] or '?'} · "
    try:
        order = float(budget)
    except ValueError:
        order = float("inf")
    return prefix, order, budget


def _label(rows: list[Row]) -> list[Row]:
    """Strategy names made unique within a setting (the same strategy in two runs gets the run id)."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r.strategy] += 1
    return [r if counts[r.strategy] == 1 else replace(r, strategy=f"{r.strategy}@{r.run}") for r in rows]


def advise_rows(rows: Iterable[Row], headers: Mapping[str, RunHeader]) -> list[Advice]:
    """One :class:`Advice` per setting (model, task file, budget) with at least one finished sample."""
    settings: dict[tuple[str, float, str], list[Row]] = defaultdict(list)
    for row in rows:
        if row.n:
            settings[_setting(headers.get(row.run), row.budget)].append(row)
    out = []
    for (prefix, _, budget), group in sorted(settings.items()):
        setting = f"{prefix}budget {budget}"
        labelled = _label(group)
        leader = max(labelled, key=lambda r: (r.accuracy, -r.mean_cost_usd, -r.mean_tokens))
        close = [r for r in labelled if _overlaps(r, leader)]
        by_tokens = all(r.mean_cost_usd == 0 for r in close)
        pick = min(close, key=lambda r: (r.mean_tokens if by_tokens else r.mean_cost_usd, -r.accuracy))
        within = tuple(r.strategy for r in close)
        out.append(Advice(setting, pick, leader, tuple(labelled), within, by_tokens))
    return out


def advise(samples: Iterable[SampleLog], headers: Mapping[str, RunHeader]) -> list[Advice]:
    return advise_rows(summarize(samples), headers)


def advice_markdown(advice: list[Advice]) -> str:
    """A table per setting (accuracy with its interval, $ and tokens per task, accuracy per dollar)
    under the plain-words statement."""
    blocks = []
    for a in advice:
        lines = [
            a.statement(),
            "",
            "| strategy | n | accuracy (95% Wilson CI) | $/task | accuracy per $ | tokens/task | within noise |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in sorted(a.rows, key=lambda r: (-r.accuracy, r.mean_cost_usd)):
            per_dollar = f"{r.accuracy / r.mean_cost_usd:,.1f}" if r.mean_cost_usd > 0 else "–"
            lines.append(
                f"| {r.strategy} | {r.n} | {r.accuracy:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f}) | {usd(r.mean_cost_usd)} "
                f"| {per_dollar} | {r.mean_tokens:,.0f} | {'yes' if r.strategy in a.within_noise else 'no'} |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) or "The log has no finished samples to advise on."
