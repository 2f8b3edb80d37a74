"""Digest periods: calendar weeks, months and quarters in a time zone, and when each is sent.
Pure.

A weekly digest covers the last full ISO week (Monday to Monday, local
time), a monthly one the last calendar month, a quarterly one the last
quarter. Each is sent at the first `--at` moment on or after its period's
end: "mon 09:00" for weeks (the default), "09:00" on the first day for
months and quarters. Periods have keys that sort in time ("2026-W07",
"2026-11", "2026-Q4"), so "was this one sent?" is a comparison with the
last key sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

EVERY = ("week", "month", "quarter")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_AT = {"week": "mon 09:00", "month": "09:00", "quarter": "09:00"}
_AT = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?([01]?\d|2[0-3]):([0-5]\d)$")


class PeriodError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    start: float  # epoch seconds, inclusive
    end: float  # exclusive
    label: str


@dataclass(frozen=True, slots=True)
class At:
    weekday: int | None  # 0 = Monday (weekly digests)
    hour: int
    minute: int


def parse_at(every: str, text: str | None) -> At:
    if every not in EVERY:
        raise PeriodError("every", f"every must be one of {', '.join(EVERY)}")
    text = (text or DEFAULT_AT[every]).strip().lower()
    match = _AT.match(text)
    if match is None:
        raise PeriodError("at", 'at must be like "mon 09:00" (weekly) or "09:00"')
    day = match[1]
    if every == "week" and day is None:
        raise PeriodError("at", 'a weekly digest\'s at names a day, e.g. "mon 09:00"')
    if every != "week" and day is not None:
        raise PeriodError("at", f"a {every}ly digest goes out on the first day: give only HH:MM")
    return At(WEEKDAYS.index(day) if day else None, int(match[2]), int(match[3]))


def _start_of(every: str, moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if every == "week":
        return day - timedelta(days=day.weekday())
    if every == "month":
        return day.replace(day=1)
    return day.replace(day=1, month=3 * ((day.month - 1) // 3) + 1)


def _next(every: str, start: datetime) -> datetime:
    if every == "week":
        return start + timedelta(days=7)
    months = 1 if every == "month" else 3
    month = start.month - 1 + months
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


def _previous(every: str, start: datetime) -> datetime:
    return _start_of(every, start - timedelta(days=1))


def _key(every: str, start: datetime) -> tuple[str, str]:
    if every == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}", f"week {week} of {year}"
    if every == "month":
        return start.strftime("%Y-%m"), start.strftime("%B %Y")
    quarter = (start.month - 1) // 3 + 1
    return f"{start.year}-Q{quarter}", f"Q{quarter} {start.year}"


def _period(every: str, start: datetime) -> Period:
    key, label = _key(every, start)
    return Period(key, _epoch(start), _epoch(_next(every, start)), label)


def _epoch(local: datetime) -> float:
    """A wall-clock time in its zone as epoch seconds (a gap or fold resolves forward)."""
    return local.timestamp()


def containing(every: str, zone: ZoneInfo, instant: float) -> Period:
    return _period(every, _start_of(every, datetime.fromtimestamp(instant, zone)))


def before(every: str, zone: ZoneInfo, period: Period) -> Period:
    start = datetime.fromtimestamp(period.start, zone)
    return _period(every, _previous(every, start))


def send_time(every: str, zone: ZoneInfo, at: At, period: Period) -> float:
    """The first `at` moment on or after the period's end."""
    end = datetime.fromtimestamp(period.end, zone)
    moment = end.replace(hour=at.hour, minute=at.minute)
    if at.weekday is not None:
        moment += timedelta(days=(at.weekday - end.weekday()) % 7)
    return _epoch(moment)


def due(every: str, zone: ZoneInfo, at: At, now: float) -> Period:
    """The latest period whose send time has come."""
    last = before(every, zone, containing(every, zone, now))
    while send_time(every, zone, at, last) > now:
        last = before(every, zone, last)
    return last
