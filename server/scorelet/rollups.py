"""The rollup rule: which counters one rating adds to, and folding many at once.

Raw ratings are the truth; rollups are sums derived from them, kept so that a
score over any window costs the same at ten ratings and at ten million. One
rating counts once in each of:

- `daily`: (touchpoint, UTC day, score)
- `hourly`: (touchpoint, UTC hour, score), for windows that cut through a day
- `context`: (touchpoint, key, value, UTC day, score), for filters and breakdowns
- `context_totals`: (touchpoint, key, value, score), all time, for breakdowns
- `totals`: (touchpoint, score), all time, for the in-memory counts
- `answered`: (touchpoint, UTC hour), ratings from a widget that had counted
  its impression, beside that hour's impressions (response rates)

Every path that derives rollups (the live fold, the bulk loader, the recount
check, the reads that add what was committed after the last fold) goes
through `Deltas.add`, so the rule exists once. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scorelet.timeutil import DAY, HOUR

DailyKey = tuple[int, int, int]
HourlyKey = tuple[int, int, int]
ContextKey = tuple[int, str, str, int, int]
ContextTotalKey = tuple[int, str, str, int]
TotalKey = tuple[int, int]
AnsweredKey = tuple[int, int]


def day_of(instant: float) -> int:
    """The UTC day number (days since 1970-01-01) a moment falls on."""
    return int(instant // DAY)


def hour_of(instant: float) -> int:
    return int(instant // HOUR)


@dataclass(frozen=True, slots=True)
class Counted:
    """One version of a rating as rollups see it: where, when, what score, which context."""

    touchpoint_id: int
    created_at: float
    score: int
    context: Mapping[str, str]
    shown: bool = False  # sent by a widget that had counted its impression


@dataclass(slots=True)
class Deltas:
    """What to add to each rollup, aggregated first: one entry per distinct key."""

    daily: Counter[DailyKey] = field(default_factory=Counter)
    hourly: Counter[HourlyKey] = field(default_factory=Counter)
    context: Counter[ContextKey] = field(default_factory=Counter)
    context_totals: Counter[ContextTotalKey] = field(default_factory=Counter)
    totals: Counter[TotalKey] = field(default_factory=Counter)
    answered: Counter[AnsweredKey] = field(default_factory=Counter)

    def add(self, rating: Counted, sign: int = 1) -> None:
        """Count `rating` once (sign 1) or take a counted version back out (sign -1)."""
        tp, score = rating.touchpoint_id, rating.score
        day, hour = day_of(rating.created_at), hour_of(rating.created_at)
        self.daily[tp, day, score] += sign
        self.hourly[tp, hour, score] += sign
        self.totals[tp, score] += sign
        if rating.shown:
            self.answered[tp, hour] += sign
        for key, value in rating.context.items():
            self.context[tp, key, value, day, score] += sign
            self.context_totals[tp, key, value, score] += sign

    def add_all(self, ratings: Iterable[Counted], sign: int = 1) -> Deltas:
        for rating in ratings:
            self.add(rating, sign)
        return self

    def nonzero(self) -> Deltas:
        """The same deltas without entries that cancelled out (a rating and its undo)."""
        return Deltas(*(Counter({k: v for k, v in part.items() if v}) for part in self.parts()))

    def parts(self) -> tuple[Counter[Any], ...]:
        return (
            self.daily,
            self.hourly,
            self.context,
            self.context_totals,
            self.totals,
            self.answered,
        )

    def __bool__(self) -> bool:
        return any(any(part.values()) for part in self.parts())


def matches(context: Mapping[str, str], filters: Mapping[str, str]) -> bool:
    """Whether a rating's context has every `key=value` of `filters`."""
    return all(context.get(key) == value for key, value in filters.items())
