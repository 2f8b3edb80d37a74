"""Counting ratings that rollups can't answer for: pure, no I/O.

Rollups count by time, score and one context value, not by comment. When a
filter is about comments ("has a comment", a search in them) the store hands
over the matching ratings themselves (`Store.commented`, which reads only
commented rows) and they are tallied here per score, per time bucket or per
context value. "Without a comment" is everything minus the commented ones,
so it costs no more than "with". A score range is a cut of any counts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence

from scorelet.rollups import Counted

Counts = dict[int, int]


def counts(rows: Iterable[Counted]) -> Counts:
    found: Counts = {}
    for row in rows:
        found[row.score] = found.get(row.score, 0) + 1
    return found


def per_span(rows: Iterable[Counted], spans: Sequence[tuple[float, float]]) -> list[Counts]:
    """Counts per [start, end) span; spans are in order and don't overlap."""
    starts = [start for start, _ in spans]
    found: list[Counts] = [{} for _ in spans]
    for row in rows:
        index = bisect.bisect_right(starts, row.created_at) - 1
        if index >= 0 and row.created_at < spans[index][1]:
            bucket = found[index]
            bucket[row.score] = bucket.get(row.score, 0) + 1
    return found


def per_value(rows: Iterable[Counted], key: str) -> dict[str, Counts]:
    """Counts per value of the context `key`; ratings without it are left out."""
    groups: dict[str, Counts] = {}
    for row in rows:
        value = row.context.get(key)
        if value is not None:
            group = groups.setdefault(value, {})
            group[row.score] = group.get(row.score, 0) + 1
    return groups


def minus(whole: Mapping[int, int], part: Mapping[int, int]) -> Counts:
    """`whole` without `part` (part is a subset of whole)."""
    left = {score: count - part.get(score, 0) for score, count in whole.items()}
    return {score: count for score, count in left.items() if count > 0}


def within(found: Mapping[int, int], low: int | None, high: int | None) -> Counts:
    """Only the scores from `low` to `high` (None: no bound)."""
    return {
        score: count
        for score, count in found.items()
        if (low is None or score >= low) and (high is None or score <= high)
    }
