"""Reading scores over time: changes worth a mark, small samples, benchmarks. Pure.

- A change against the previous period is *meaningful* when the two 95%
  intervals don't overlap. That is stricter than a test of the difference
  (two intervals can overlap a little while the difference is still
  significant), so a marked change is very unlikely to be noise; an
  unmarked one may still be real, with too few answers to tell.
- Fewer than `SMALL_N` answers give an interval about ±15 points wide or
  more, so such buckets and breakdown rows are flagged as small.
- Benchmarks are guidance, not goals: the usual published bands (NPS above
  0 decent, 20 solid, 50 excellent, 80 world-class; CSAT 80% strong). A
  touchpoint's own trend says more than any industry's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SMALL_N = 30
# (lowest score, band), highest first; "decent" is above 0, the others from their floor.
NPS_BANDS = ((80.0, "world-class"), (50.0, "excellent"), (20.0, "solid"), (0.1, "decent"))
CSAT_STRONG = 80.0


@dataclass(frozen=True, slots=True)
class Change:
    delta: float  # current minus previous, in points
    meaningful: bool  # the two 95% intervals don't overlap

    @property
    def direction(self) -> str:
        return "up" if self.delta > 0 else "down" if self.delta < 0 else "flat"


def change(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> Change | None:
    """The change between two score bodies, or None when either has no score."""
    if previous is None or current["score"] is None or previous["score"] is None:
        return None
    now, then = current["interval"], previous["interval"]
    apart = now["low"] > then["high"] or now["high"] < then["low"]
    return Change(round(current["score"] - previous["score"], 1), apart)


def small(body: Mapping[str, Any]) -> bool:
    """Whether a score rests on too few answers to read much into."""
    return bool(0 < body["responses"] < SMALL_N)


def benchmark(metric: str, score: float | None) -> str | None:
    """The benchmark band a score sits in, as guidance."""
    if score is None:
        return None
    if metric == "nps":
        for floor, name in NPS_BANDS:
            if score >= floor:
                return name
        return "0 or below"
    return "strong" if score >= CSAT_STRONG else "below 80%"
