"""Chart geometry for server-rendered SVG: sparklines, the trend with its band, bars. Pure.

Charts are drawn on the server, so they need no script, work under the
strict CSP and link every bar and point to the ratings behind it. The plot
area stretches to its box (`preserveAspectRatio="none"`), so lines and dots
use `vector-effect: non-scaling-stroke` and dots are zero-length round-capped
strokes: they stay round at any width. Text lives in HTML beside the SVG,
where it stays readable at 360 px. Every chart has a table with the same
numbers for screen readers and keyboard users (the templates draw both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scorelet.trends import SMALL_N

WIDTH, HEIGHT = 600.0, 200.0
PAD = 8.0
SPARK_WIDTH, SPARK_HEIGHT = 120.0, 32.0
# Lines drawn across the trend as guidance: (score, what it means).
BENCHMARKS = {
    "nps": ((0.0, "0"), (20.0, "20 solid"), (50.0, "50 excellent"), (80.0, "80 world-class")),
    "csat": ((80.0, "80% strong"),),
}


def scale_range(metric: str) -> tuple[float, float]:
    return (-100.0, 100.0) if metric == "nps" else (0.0, 100.0)


def _y(score: float, metric: str, height: float, pad: float) -> float:
    low, high = scale_range(metric)
    return round(pad + (high - score) / (high - low) * (height - 2 * pad), 2)


def _segments(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive points; a bucket without answers breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _path(run: Sequence[tuple[float, float]]) -> str:
    first, *rest = run
    return f"M{first[0]:g} {first[1]:g}" + "".join(f"L{x:g} {y:g}" for x, y in rest)


def sparkline(metric: str, bodies: Sequence[Mapping[str, Any]]) -> str:
    """The `d` of a small line through each bucket's score (gaps where none)."""
    if not bodies:
        return ""
    step = SPARK_WIDTH / max(1, len(bodies) - 1)
    points = [
        None
        if body["score"] is None
        else (round(i * step, 2), _y(body["score"], metric, SPARK_HEIGHT, 3.0))
        for i, body in enumerate(bodies)
    ]
    return " ".join(
        _path(run) if len(run) > 1 else f"M{run[0][0]:g} {run[0][1]:g}h0"
        for run in _segments(points)
    )


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    small: bool


@dataclass(frozen=True, slots=True)
class Column:
    """One bucket's clickable strip, with what a tooltip and a link need."""

    x: float
    width: float
    href: str
    label: str


@dataclass(frozen=True, slots=True)
class Trend:
    line: list[str]  # one path per run of buckets with answers
    band: list[str]  # one polygon per run: the 95% interval
    dots: list[Dot]
    columns: list[Column]
    rules: list[tuple[float, str]]  # benchmark lines: (y, label)


def trend(
    metric: str, bodies: Sequence[Mapping[str, Any]], hrefs: Sequence[str], labels: Sequence[str]
) -> Trend:
    """The trend of a series: line, interval band, dots (small n marked), click strips."""
    count = len(bodies)
    width = WIDTH / max(1, count)

    def y(score: float) -> float:
        return _y(score, metric, HEIGHT, PAD)

    centres = [round((i + 0.5) * width, 2) for i in range(count)]
    points = [
        None if body["score"] is None else (centres[i], y(body["score"]))
        for i, body in enumerate(bodies)
    ]
    highs = [
        None if body["score"] is None else (centres[i], y(body["interval"]["high"]))
        for i, body in enumerate(bodies)
    ]
    lows = [
        None if body["score"] is None else (centres[i], y(body["interval"]["low"]))
        for i, body in enumerate(bodies)
    ]
    band = []
    for top, bottom in zip(_segments(highs), _segments(lows), strict=True):
        if len(top) == 1:  # one bucket alone: a thin bar of its interval
            (x, high), (_, low) = top[0], bottom[0]
            top = [(x - width / 4, high), (x + width / 4, high)]
            bottom = [(x - width / 4, low), (x + width / 4, low)]
        outline = top + list(reversed(bottom))
        band.append(" ".join(f"{px:g},{py:g}" for px, py in outline))
    dots = [
        Dot(point[0], point[1], body["responses"] < SMALL_N)
        for point, body in zip(points, bodies, strict=True)
        if point is not None
    ]
    columns = [
        Column(round(i * width, 2), round(width, 2), hrefs[i], labels[i]) for i in range(count)
    ]
    rules = [(y(level), text) for level, text in BENCHMARKS[metric]]
    return Trend([_path(run) for run in _segments(points)], band, dots, columns, rules)


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of a stacked bar: where it starts and how wide it is, in percent."""

    x: float
    width: float
    kind: str  # low | neutral | high: the colour
    label: str
    count: int
    percent: float
    href: str


def stacked(parts: Sequence[tuple[str, str, int, str]]) -> list[Segment]:
    """A 100%-wide bar of (label, kind, count, href) parts, empty ones left out."""
    total = sum(count for _, _, count, _ in parts)
    segments, x = [], 0.0
    for label, kind, count, href in parts:
        share = 100.0 * count / total if total else 0.0
        segments.append(Segment(round(x, 3), round(share, 3), kind, label, count, share, href))
        x += share
    return segments
