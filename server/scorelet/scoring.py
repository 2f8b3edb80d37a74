"""CSAT and NPS from a distribution of scores: pure arithmetic, no I/O.

Every figure comes with its count and a 95% interval, so that "NPS 40 from
5 answers" cannot pass for "NPS 40 from 5,000":

- CSAT uses the Wilson score interval on the satisfied share.
- NPS uses the adjusted Wald interval (Rocks, 2016): add 3 to n and 3/4 to
  both promoters and detractors, then take the normal interval of the
  difference of the two shares. Unlike the plain interval on the +1/0/-1
  variable it never collapses to zero width on small or unanimous samples.

Percent figures are rounded half away from zero to one decimal. With no
responses, every score is None, never 0 and never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scorelet.scales import Scale

Z95 = 1.959963984540054
LEVEL = 0.95
PROMOTER_FROM = 9
PASSIVE_FROM = 7


def round1(value: float) -> float:
    """Round to one decimal, half away from zero (so 12.25 -> 12.3, -12.25 -> -12.3)."""
    return math.copysign(math.floor(abs(value) * 10 + 0.5 + 1e-9) / 10, value) + 0.0


def percent(part: int, whole: int) -> float | None:
    return round1(100 * part / whole) if whole else None


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion, as fractions in [0, 1]."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def nps_interval(
    promoters: int, detractors: int, n: int, z: float = Z95
) -> tuple[float, float] | None:
    """Adjusted Wald interval for NPS, as fractions in [-1, 1]."""
    if n == 0:
        return None
    n_adj = n + 3
    p = (promoters + 0.75) / n_adj
    d = (detractors + 0.75) / n_adj
    diff = p - d
    half = z * math.sqrt((p + d - diff * diff) / n_adj)
    return max(-1.0, diff - half), min(1.0, diff + half)


def _interval(bounds: tuple[float, float] | None) -> dict[str, Any]:
    low, high = (round1(100 * bounds[0]), round1(100 * bounds[1])) if bounds else (None, None)
    return {"low": low, "high": high, "level": LEVEL}


def _distribution(scale: Scale, counts: Mapping[int, int]) -> dict[str, int]:
    return {str(point): counts.get(point, 0) for point in scale.points}


def summarize_csat(scale: Scale, satisfied_from: int, counts: Mapping[int, int]) -> dict[str, Any]:
    """CSAT: the share of responses at or above `satisfied_from`, with mean and spread."""
    n = sum(counts.values())
    satisfied = sum(c for score, c in counts.items() if score >= satisfied_from)
    total = sum(score * c for score, c in counts.items())
    return {
        "metric": "csat",
        "responses": n,
        "score": percent(satisfied, n),
        "satisfied": satisfied,
        "satisfied_from": satisfied_from,
        "mean": round(total / n, 2) if n else None,
        "distribution": _distribution(scale, counts),
        "interval": _interval(wilson(satisfied, n)),
    }


def summarize_nps(scale: Scale, counts: Mapping[int, int]) -> dict[str, Any]:
    """NPS: percent promoters (9-10) minus percent detractors (0-6), from -100 to +100."""
    n = sum(counts.values())
    promoters = sum(c for score, c in counts.items() if score >= PROMOTER_FROM)
    detractors = sum(c for score, c in counts.items() if score < PASSIVE_FROM)
    passives = n - promoters - detractors
    return {
        "metric": "nps",
        "responses": n,
        "score": percent(promoters - detractors, n),
        "promoters": {"count": promoters, "percent": percent(promoters, n)},
        "passives": {"count": passives, "percent": percent(passives, n)},
        "detractors": {"count": detractors, "percent": percent(detractors, n)},
        "distribution": _distribution(scale, counts),
        "interval": _interval(nps_interval(promoters, detractors, n)),
    }


def summarize(
    metric: str, scale: Scale, satisfied_from: int | None, counts: Mapping[int, int]
) -> dict[str, Any]:
    """The metric's figures for a distribution (the response rate is displays.py's)."""
    if metric == "nps":
        return summarize_nps(scale, counts)
    assert satisfied_from is not None
    return summarize_csat(scale, satisfied_from, counts)
