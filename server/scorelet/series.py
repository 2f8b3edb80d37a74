"""Time buckets for score series, aligned to a time zone: pure, no I/O.

A day bucket runs from local midnight to the next local midnight, so around
a daylight-saving change it lasts 23 or 25 hours; weeks start on Monday,
months on the 1st. Buckets are returned as [start, end) in epoch seconds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INTERVALS = ("day", "week", "month")
DEFAULT_BUCKETS = 30
MAX_BUCKETS = 1000


class SeriesError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SeriesError(
            "tz", f"unknown time zone {name!r}; use an IANA name like Europe/Berlin"
        ) from None


def _floor(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next(day: date, interval: str) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _previous(day: date, interval: str) -> date:
    if interval == "day":
        return day - timedelta(days=1)
    if interval == "week":
        return day - timedelta(days=7)
    return (day - timedelta(days=1)).replace(day=1)


def _instant(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def buckets(
    interval: str, tz: ZoneInfo, since: float | None, until: float | None, now: float
) -> list[tuple[float, float]]:
    """Buckets covering [since, until): the bucket holding `since` to the one before `until`.

    Without `until` the series ends with the bucket holding `now`; without
    `since` it starts DEFAULT_BUCKETS - 1 buckets before the last one.
    """
    if interval not in INTERVALS:
        raise SeriesError("interval", "interval must be day, week or month")
    end = until if until is not None else now
    last = _floor(datetime.fromtimestamp(end, tz).date(), interval)
    if until is not None and _instant(last, tz) >= until:
        last = _previous(last, interval)
    if since is None:
        first = last
        for _ in range(DEFAULT_BUCKETS - 1):
            first = _previous(first, interval)
    else:
        first = _floor(datetime.fromtimestamp(since, tz).date(), interval)
    result: list[tuple[float, float]] = []
    day = first
    while day <= last:
        following = _next(day, interval)
        result.append((_instant(day, tz), _instant(following, tz)))
        if len(result) > MAX_BUCKETS:
            raise SeriesError(
                "since", f"a series has at most {MAX_BUCKETS} buckets; narrow the window"
            )
        day = following
    return result
