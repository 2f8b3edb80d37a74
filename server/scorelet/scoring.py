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

import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from scorelet.scales import Scale

if TYPE_CHECKING:
    from scorelet.views import Figures, Interval

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


@functools.lru_cache(maxsize=4096)
def nps_interval(
    promoters: int, detractors: int, n: int, z: float = Z95
) -> tuple[float, float] | None:
    """Tango's (1998) score interval for NPS, as fractions in [-1, 1].

    Tango, T. "Equivalence test and confidence interval for the difference
    in proportions for the paired-sample design." Statistics in Medicine 17
    (1998): 891-908. The statistic falls as the difference tried rises, so
    each end is found by bisection between the estimate and -1 or +1 (about
    80 evaluations, so results are remembered: polls ask for the same few).
    """
    if n == 0:
        return None

    def statistic(delta: float) -> float:
        return nps_score_statistic(promoters, detractors, n, delta)

    estimate = (promoters - detractors) / n
    low = _boundary(lambda delta: statistic(delta) <= z, estimate, -1.0)
    high = _boundary(lambda delta: statistic(delta) >= -z, estimate, 1.0)
    return low, high


def nps_score_statistic(promoters: int, detractors: int, n: int, delta: float) -> float:
    """The score statistic for "the true NPS, as a fraction, is `delta`"."""
    b, c = promoters, detractors
    # The detractors' share most likely under `delta` (the restricted MLE).
    w = (2 * n - b + c) * delta - b - c
    share = (math.sqrt(max(0.0, w * w + 8 * n * c * delta * (1 - delta))) - w) / (4 * n)
    variance = n * (2 * share + delta * (1 - delta))
    difference = b - c - n * delta
    if variance <= 1e-15:
        return 0.0 if abs(difference) < 1e-12 else math.copysign(math.inf, difference)
    return difference / math.sqrt(variance)


def _boundary(accepted: Callable[[float], bool], inside: float, edge: float) -> float:
    """The last accepted point from `inside` (accepted) towards `edge`, to within 1e-11."""
    if accepted(edge):
        return edge
    for _ in range(40):
        middle = (inside + edge) / 2
        if accepted(middle):
            inside = middle
        else:
            edge = middle
    return inside


def _interval(bounds: tuple[float, float] | None) -> Interval:
    low, high = (round1(100 * bounds[0]), round1(100 * bounds[1])) if bounds else (None, None)
    return {"low": low, "high": high, "level": LEVEL}


def _distribution(scale: Scale, counts: Mapping[int, int]) -> dict[str, int]:
    return {str(point): counts.get(point, 0) for point in scale.points}


def summarize_csat(scale: Scale, satisfied_from: int, counts: Mapping[int, int]) -> Figures:
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


def summarize_nps(scale: Scale, counts: Mapping[int, int]) -> Figures:
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
) -> Figures:
    """The metric's figures for a distribution (the response rate is displays.py's)."""
    if metric == "nps":
        return summarize_nps(scale, counts)
    assert satisfied_from is not None
    return summarize_csat(scale, satisfied_from, counts)
