"""Inline SVG charts written by hand: an accuracy-vs-budget line chart and a cost/accuracy scatter.

No plotting library: the charts must sit inside one self-contained page, read well at a glance and
never hide data. So series that coincide are drawn side by side (a small horizontal dodge, their
own marker and dash), axes use plain linear ticks (``0 5 10 15``; a log axis only when the values
span more than a factor of 30, still with plain numbers), and point labels are placed where they
overlap neither each other nor a point, or left to the point's tooltip and listed under the chart.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

WIDTH, HEIGHT = 680, 400
LEFT, RIGHT, TOP, BOTTOM = 64, 170, 40, 56
FONT = 11
CHAR_WIDTH = 7.0
"""A generous estimate of one character's width at ``FONT`` px, so estimated label boxes cover real ones."""
COLORS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7a5c00", "#555555")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")


@dataclass(frozen=True)
class Series:
    """One line: (x, y, y_low, y_high) points, drawn with error bars."""

    name: str
    points: Sequence[tuple[float, float, float, float]]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    group: str
    tip: str = ""


@dataclass(frozen=True)
class Axis:
    """A linear or log mapping of data values to pixels, with its ticks."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False
    fixed: tuple[float, ...] = ()
    """Ticks to show instead of computed ones (the budgets themselves)."""

    def __call__(self, value: float) -> float:
        if self.log:
            lo, hi, value = math.log10(self.lo), math.log10(self.hi), math.log10(max(value, self.lo))
        else:
            lo, hi = self.lo, self.hi
        span = (hi - lo) or 1.0
        return self.start + (value - lo) / span * (self.end - self.start)

    def ticks(self) -> list[float]:
        if self.fixed:
            return list(self.fixed)
        if not self.log:
            return nice_ticks(self.lo, self.hi)
        out = []
        for power in range(math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi)) + 1):
            out += [m * 10.0**power for m in (1, 2, 5) if self.lo <= m * 10.0**power <= self.hi]
        return out


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Ticks at 1, 2 or 5 times a power of ten, the last at or above ``hi``."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(math.ceil((hi - first) / step - 1e-9) + 1)]


def tick_text(value: float) -> str:
    """``0``, ``2.5``, ``1,000``, ``0.002``: plain numbers, never ``2×10⁰``."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.6g}"


def axis_for(values: Sequence[float], start: float, end: float) -> Axis:
    """A linear axis from 0 to a nice value above the largest; log when the positive values span
    more than a factor of 30."""
    positive = [v for v in values if v > 0]
    if positive and min(positive) * 30 < max(positive) and len(positive) == len(values):
        lo = 10.0 ** math.floor(math.log10(min(positive)))
        return Axis(lo, 10.0 ** math.ceil(math.log10(max(positive))), start, end, log=True)
    return Axis(0.0, nice_ticks(0.0, max(values, default=1.0))[-1], start, end)


def settings_axis(values: Sequence[float], start: float, end: float) -> Axis:
    """An axis for a few settings (budgets): from the smallest to the largest, ticked at the values
    themselves when they are few and far enough apart to read, else as :func:`axis_for`."""
    distinct = sorted(set(values))
    if not distinct:
        return axis_for([], start, end)
    lo, hi = distinct[0], distinct[-1]
    log = lo > 0 and lo * 30 < hi
    axis = Axis(lo - 1 if lo == hi else lo, hi + 1 if lo == hi else hi, start, end, log=log, fixed=tuple(distinct))
    gaps = [axis(b) - axis(a) for a, b in pairwise(distinct)]
    if len(distinct) > 8 or any(gap < 30 for gap in gaps):
        return axis_for(values, start, end)
    return axis


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _marker(shape: str, x: float, y: float, color: str, tip: str) -> str:
    title = f"<title>{_esc(tip)}</title>" if tip else ""
    if shape == "square":
        body = f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"'
    elif shape in ("triangle", "diamond"):
        pts = (
            [(x, y - 5), (x + 5, y + 4), (x - 5, y + 4)]
            if shape == "triangle"
            else [(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)]
        )
        body = '<polygon points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"'
    else:
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5"'
    return f'{body} fill="{color}" stroke="white" stroke-width="1" class="mark">{title}</{body.split()[0][1:]}>'


def _frame(title: str, x_label: str, y_label: str, xa: Axis, ya: Axis) -> list[str]:
    """The chart's title, axes, grid lines and tick labels."""
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    out = [
        f'<text class="title" x="{LEFT}" y="22" font-size="14" font-weight="bold">{_esc(title)}</text>',
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>',
    ]
    for t in xa.ticks():
        x = xa(t)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 4}" stroke="#333"/>')
        out.append(f'<text class="tick x" x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">{tick_text(t)}</text>')
    for t in ya.ticks():
        y = ya(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text class="tick y" x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_text(t)}</text>')
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    out.append(
        f'<text class="axis-label x" x="{mid_x:.0f}" y="{HEIGHT - 16}" text-anchor="middle">{_esc(x_label)}</text>'
    )
    out.append(
        f'<text class="axis-label y" transform="translate(16 {mid_y:.0f}) rotate(-90)" '
        f'text-anchor="middle">{_esc(y_label)}</text>'
    )
    return out


def _svg(kind: str, parts: list[str], caption: str = "") -> str:
    note = f'<p class="chart-note">{_esc(caption)}</p>' if caption else ""
    return (
        f'<figure class="chart {kind}"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="{FONT}" role="img">'
        + "".join(parts)
        + f"</svg>{note}</figure>"
    )


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = TOP + 8 + i * 18
        x = WIDTH - RIGHT + 14
        color, dash = COLORS[i % len(COLORS)], DASHES[i % len(DASHES)]
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="{color}" stroke-width="2" '
            f'stroke-dasharray="{dash}"/>'
        )
        out.append(_marker(MARKERS[i % len(MARKERS)], x + 11, y, color, "").replace('class="mark"', 'class="key"'))
        out.append(f'<text class="legend" x="{x + 28}" y="{y + 4}">{_esc(name)}</text>')
    return out


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str = "accuracy") -> str:
    """Lines with error bars; y from 0 to 1. Coinciding series stay visible: each is shifted a few
    pixels sideways and has its own marker and dash."""
    xs = [p[0] for s in series for p in s.points]
    xa = settings_axis(xs, LEFT + 20, WIDTH - RIGHT - 20)
    ya = Axis(0.0, 1.0, HEIGHT - BOTTOM, TOP)
    parts = _frame(title, x_label, y_label, xa, ya)
    for i, s in enumerate(series):
        color, dash, shape = COLORS[i % len(COLORS)], DASHES[i % len(DASHES)], MARKERS[i % len(MARKERS)]
        shift = (i - (len(series) - 1) / 2) * 5
        pts = sorted(s.points)
        path = " ".join(f"{xa(x) + shift:.1f},{ya(y):.1f}" for x, y, _, _ in pts)
        parts.append(
            f'<g class="series" data-name="{_esc(s.name)}"><polyline points="{path}" fill="none" stroke="{color}" '
            f'stroke-width="2" stroke-dasharray="{dash}"/>'
        )
        for x, y, lo, hi in pts:
            px = xa(x) + shift
            parts.append(
                f'<line x1="{px:.1f}" y1="{ya(lo):.1f}" x2="{px:.1f}" y2="{ya(hi):.1f}" '
                f'stroke="{color}" stroke-width="1.2"/>'
            )
            tip = f"{s.name} @ {tick_text(x)}: {y:.2f} (95% CI {lo:.2f}–{hi:.2f})"
            parts.append(_marker(shape, px, ya(y), color, tip))
        parts.append("</g>")
    parts += _legend([s.name for s in series])
    return _svg("accuracy", parts)


Box = tuple[float, float, float, float]


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(anchors: Sequence[tuple[float, float, str]], bounds: Box) -> list[Box | None]:
    """A box for each label near its anchor that overlaps no other label, no anchor's marker and stays
    inside ``bounds``; None when no candidate spot is free (the label is then left out)."""
    markers = [(x - 6, y - 6, x + 6, y + 6) for x, y, _ in anchors]
    placed: list[Box] = []
    out: list[Box | None] = []
    for x, y, text in anchors:
        w, h = len(text) * CHAR_WIDTH + 4, FONT + 5
        chosen = None
        for dist in (8, 20, 34):
            for dx, dy in ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (1, 1), (-1, -1), (-1, 1)):
                left = x + dist if dx > 0 else x - dist - w if dx < 0 else x - w / 2
                top = y - h / 2 + dy * (dist + h / 2)
                box = (left, top, left + w, top + h)
                inside = bounds[0] <= box[0] and box[2] <= bounds[2] and bounds[1] <= box[1] and box[3] <= bounds[3]
                if inside and not any(_overlaps(box, o) for o in (*placed, *markers)):
                    chosen = box
                    break
            if chosen:
                break
        if chosen:
            placed.append(chosen)
        out.append(chosen)
    return out


def spread(positions: Sequence[tuple[float, float]], labels: Sequence[str]) -> list[tuple[float, float, str]]:
    """Points that would cover each other (closer than a marker) are set around a small ring, so
    equal results stay visible as separate markers."""
    clusters: list[list[int]] = []
    for i, (x, y) in enumerate(positions):
        home = next((c for c in clusters if math.dist(positions[c[0]], (x, y)) < 4), None)
        if home is None:
            clusters.append([i])
        else:
            home.append(i)
    out = [(x, y, label) for (x, y), label in zip(positions, labels, strict=True)]
    for cluster in clusters:
        if len(cluster) < 2:
            continue
        cx, cy = positions[cluster[0]]
        for k, i in enumerate(cluster):
            angle = 2 * math.pi * k / len(cluster)
            out[i] = (cx + 7 * math.cos(angle), cy + 7 * math.sin(angle), labels[i])
    return out


def scatter_chart(
    points: Sequence[Point], *, title: str, x_label: str, y_label: str = "accuracy", front: Sequence[Point] = ()
) -> str:
    """Points coloured by group, each labelled where its label fits (every point keeps a tooltip),
    and the Pareto front as a dashed line."""
    groups = sorted({p.group for p in points})
    xa = axis_for([p.x for p in points] or [1.0], LEFT + 14, WIDTH - RIGHT - 14)
    ya = Axis(0.0, 1.0, HEIGHT - BOTTOM, TOP)
    parts = _frame(title, x_label, y_label, xa, ya)
    if len(front) > 1:
        path = " ".join(f"{xa(p.x):.1f},{ya(p.y):.1f}" for p in front)
        parts.append(f'<polyline class="front" points="{path}" fill="none" stroke="#888" stroke-dasharray="5 4"/>')
    anchors = spread([(xa(p.x), ya(p.y)) for p in points], [p.label for p in points])
    boxes = place_labels(anchors, (LEFT, TOP - 8, WIDTH - RIGHT + 8, HEIGHT - BOTTOM))
    unlabelled = []
    for p, (x, y, _), box in zip(points, anchors, boxes, strict=True):
        i = groups.index(p.group)
        parts.append(_marker(MARKERS[i % len(MARKERS)], x, y, COLORS[i % len(COLORS)], p.tip or p.label))
        if box is None:
            unlabelled.append(p.label)
            continue
        near = (min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3]))
        if math.dist(near, (x, y)) > 6:  # a label not right beside its marker points at it
            parts.append(
                f'<line class="leader" x1="{x:.1f}" y1="{y:.1f}" x2="{near[0]:.1f}" y2="{near[1]:.1f}" '
                'stroke="#aaa" stroke-width="0.8"/>'
            )
        parts.append(f'<text class="point-label" x="{box[0] + 2:.1f}" y="{box[3] - 4:.1f}">{_esc(p.label)}</text>')
    parts += _legend(groups)
    if len(front) > 1:
        y = TOP + 8 + len(groups) * 18
        x = WIDTH - RIGHT + 14
        parts.append(f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="#888" stroke-dasharray="5 4"/>')
        parts.append(f'<text class="legend" x="{x + 28}" y="{y + 4}">Pareto front</text>')
    caption = f"not labelled (no room; hover the points): {', '.join(unlabelled)}" if unlabelled else ""
    return _svg("cost", parts, caption)
