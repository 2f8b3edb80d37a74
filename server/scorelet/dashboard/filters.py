"""The dashboard's one filter state, kept in the URL: parsed, checked, written back. Pure.

Every number on a page, its charts, the ratings list and the export link
come from the same `Filter`, so what a page shows is what its export holds,
and a URL can be shared. Parameters:

    window=7d|30d|90d|365d|all   or since=YYYY-MM-DD&until=YYYY-MM-DD (days, inclusive;
                                 a window given too wins: the form's select replaces days)
    f=KEY:VALUE                  a context value (repeat for other keys), e.g. f=agent:alice
    min_score=N&max_score=N      a score range
    group=low|neutral|high       CSAT's groups (or detractor|passive|promoter for NPS)
    comment=with|without         ratings with or without a comment
    q=WORDS                      comments holding every word
    tz=Area/City                 the time zone of days and weeks (default: the browser's)

A filter field is one entry in `FIELDS` and one attribute: adding one (the
routing issue's `tag`) touches only those two places and what it narrows.
Rolling windows end "now" but start on the hour, so a page stays the same
(and its cached numbers good) within an hour unless ratings arrive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from scorelet.ratings import Window
from scorelet.search import SearchError, terms
from scorelet.series import SeriesError, zone
from scorelet.timeutil import DAY, HOUR
from scorelet.touchpoints import GROUPS, Touchpoint
from scorelet.validation import CONTEXT_KEY, MAX_CONTEXT_VALUE

WINDOWS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365, "all": None}
WINDOW_NAMES = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 12 months",
    "all": "All time",
}
DEFAULT_WINDOW = "30d"
COMMENTS = ("with", "without")
MAX_QUERY = 200
MAX_CONTEXT_FILTERS = 5


class FilterError(ValueError):
    """A filter parameter the page can't use; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Filter:
    window: str = DEFAULT_WINDOW  # a WINDOWS name, or "custom" with since/until
    since: date | None = None
    until: date | None = None
    context: tuple[tuple[str, str], ...] = ()
    min_score: int | None = None
    max_score: int | None = None
    group: str | None = None
    comment: str | None = None
    q: str = ""
    tz: str | None = None
    # tag: str | None = None  (the routing issue: and one entry in FIELDS)

    # -- reading it back ------------------------------------------------------------------

    def items(self) -> list[tuple[str, str]]:
        """The query parameters that say this filter (defaults left out), in a fixed order."""
        out: list[tuple[str, str]] = []
        if self.window == "custom":
            out += [("since", str(self.since)), ("until", str(self.until))]
        elif self.window != DEFAULT_WINDOW:
            out.append(("window", self.window))
        out += [("f", f"{key}:{value}") for key, value in self.context]
        for name in ("min_score", "max_score", "group", "comment", "tz"):
            value = getattr(self, name)
            if value is not None:
                out.append((name, str(value)))
        if self.q:
            out.append(("q", self.q))
        return out

    def query(self, **extra: Any) -> str:
        """This filter with `extra` parameters (None drops one) as a query string."""
        pairs = self.items() + [(k, str(v)) for k, v in extra.items() if v is not None]
        return "?" + urlencode(pairs) if pairs else ""

    def with_(self, **changes: Any) -> Filter:
        return replace(self, **changes)

    def with_context(self, key: str, value: str) -> Filter:
        kept = tuple((k, v) for k, v in self.context if k != key)
        return replace(self, context=(*kept, (key, value)))

    def without_context(self, key: str) -> Filter:
        return replace(self, context=tuple((k, v) for k, v in self.context if k != key))

    @property
    def narrowed(self) -> bool:
        """Whether anything beyond the window is filtered."""
        return bool(
            self.context
            or self.q
            or self.comment
            or self.group
            or self.min_score is not None
            or self.max_score is not None
        )

    def describe(self) -> str:
        if self.window == "custom":
            return f"{self.since} to {self.until}"
        return WINDOW_NAMES[self.window]

    # -- what it counts -------------------------------------------------------------------

    def zone(self, default: str) -> ZoneInfo:
        return zone(self.tz or default)

    def span(self, tz: ZoneInfo, now: float) -> tuple[float | None, float | None]:
        """[since, until) in epoch seconds: rolling windows start on the hour."""
        if self.window == "custom":
            assert self.since is not None
            assert self.until is not None
            return _midnight(self.since, tz), _midnight(self.until + timedelta(days=1), tz)
        days = WINDOWS[self.window]
        if days is None:
            return None, None
        return math.floor(now / HOUR) * HOUR - days * DAY, None

    def previous(self, tz: ZoneInfo, now: float) -> tuple[float, float] | None:
        """The span of the same length just before, to compare against (None: all time)."""
        since, until = self.span(tz, now)
        if since is None:
            return None
        end = until if until is not None else math.floor(now / HOUR) * HOUR
        return since - (end - since), since

    def scores(self, touchpoint: Touchpoint) -> tuple[int | None, int | None]:
        """The score range: min/max, narrowed by the group where it is the touchpoint's."""
        low, high = self.min_score, self.max_score
        if self.group in GROUPS[touchpoint.metric]:
            index = GROUPS[touchpoint.metric].index(self.group)
            middle, top = touchpoint.group_bounds
            g_low, g_high = [
                (touchpoint.scale.low, middle - 1),
                (middle, top - 1),
                (top, touchpoint.scale.high),
            ][index]
            low = g_low if low is None else max(low, g_low)
            high = g_high if high is None else min(high, g_high)
        return low, high

    def window_for(self, touchpoint: Touchpoint, span: tuple[float | None, float | None]) -> Window:
        low, high = self.scores(touchpoint)
        return Window(
            since=span[0],
            until=span[1],
            filters=dict(self.context),
            min_score=low,
            max_score=high,
            has_comment=None if self.comment is None else self.comment == "with",
            search=terms(self.q),
        )


def _midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


# -- parsing ----------------------------------------------------------------------------------


def _score(value: str, name: str) -> int:
    if not value.isdigit() or len(value) > 2:
        raise FilterError(name, f"{name} must be a whole number from 0 to 10")
    return int(value)


def _day(value: str, name: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FilterError(name, f"{name} must be a date like 2026-11-01") from None
    if not 1970 <= day.year < 9999:
        raise FilterError(name, f"{name} must be between 1970 and 9998")
    return day


def _context(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition(":")
        if not sep or not CONTEXT_KEY.match(key) or len(key) > 40:
            raise FilterError("f", f"{text[:60]!r} is not KEY:VALUE, e.g. agent:alice")
        if key in pairs:
            raise FilterError("f", f"{key} is filtered twice; keep one value")
        if len(value) > MAX_CONTEXT_VALUE or any(ord(c) < 32 for c in value):
            raise FilterError("f", f"the value for {key} is too long or has control characters")
        pairs[key] = value
    if len(pairs) > MAX_CONTEXT_FILTERS:
        raise FilterError("f", f"filter by at most {MAX_CONTEXT_FILTERS} context keys at once")
    return tuple(pairs.items())


ONE_VALUE = ("window", "since", "until", "min_score", "max_score", "group", "comment", "q", "tz")
# Parameters a page reads besides the filter (the trend's buckets, the breakdown, paging).
PAGE_PARAMS = frozenset({"interval", "by", "cursor", "format"})
FIELDS = frozenset({*ONE_VALUE, "f"})


def parse(params: Iterable[tuple[str, str]]) -> tuple[Filter, dict[str, str]]:
    """The filter in a query string, and the page's own parameters beside it."""
    given: dict[str, list[str]] = {}
    for name, value in params:
        given.setdefault(name, []).append(value)
    unknown = sorted(set(given) - FIELDS - PAGE_PARAMS)
    if unknown:
        raise FilterError(unknown[0][:40], f"{unknown[0][:40]!r} is not a dashboard filter")
    for name, values in given.items():
        if name != "f" and len(values) > 1:
            raise FilterError(name, f"{name} is given more than once")
    one: Mapping[str, str] = {name: values[0] for name, values in given.items()}
    result = Filter(context=_context(given.get("f", [])))
    if one.get("window"):  # a window chosen in the form wins over the days it replaced
        if one["window"] not in WINDOWS:
            raise FilterError("window", f"window must be one of {', '.join(WINDOWS)}")
        result = replace(result, window=one["window"])
    elif "since" in one or "until" in one:
        if not ("since" in one and "until" in one):
            raise FilterError("until", "give both since and until, or choose a window")
        since, until = _day(one["since"], "since"), _day(one["until"], "until")
        if until < since:
            raise FilterError("until", "until must not be before since")
        result = replace(result, window="custom", since=since, until=until)
    low = _score(one["min_score"], "min_score") if one.get("min_score") else None
    high = _score(one["max_score"], "max_score") if one.get("max_score") else None
    if low is not None and high is not None and low > high:
        raise FilterError("max_score", "max_score must not be below min_score")
    group = one.get("group") or None
    if group is not None and not any(group in names for names in GROUPS.values()):
        raise FilterError(
            "group", "group must be low, neutral or high (CSAT), detractor, passive or promoter"
        )
    comment = one.get("comment") or None
    if comment is not None and comment not in COMMENTS:
        raise FilterError("comment", "comment must be with or without")
    q = one.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise FilterError("q", f"a search can be at most {MAX_QUERY} characters")
    try:
        terms(q)
    except SearchError as error:
        raise FilterError("q", str(error)) from None
    tz = one.get("tz") or None
    if tz is not None:
        try:
            zone(tz)
        except SeriesError as error:
            raise FilterError("tz", str(error)) from None
    result = replace(
        result, min_score=low, max_score=high, group=group, comment=comment, q=q, tz=tz
    )
    pages = {name: one[name] for name in PAGE_PARAMS if name in one}
    return result, pages
