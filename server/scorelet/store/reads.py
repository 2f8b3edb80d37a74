"""Read queries: plain functions of a sqlite3 connection, run in the reader's thread.

Counts are exact for any window and cost about the same at any data size:
whole days come from rollups, the rest from hourly rollups and an indexed
scan of the few raw responses at the window's edges.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from typing import Any

from scorelet.displays import Displays
from scorelet.store.records import (
    RESPONSE_COLUMNS,
    TOUCHPOINT_COLUMNS,
    ApiKey,
    Response,
    ResponseQuery,
    response_from_row,
    touchpoint_from_row,
)
from scorelet.timeutil import DAY, HOUR
from scorelet.touchpoints import Touchpoint

Counts = dict[int, int]


def load_touchpoints(conn: sqlite3.Connection) -> list[Touchpoint]:
    rows = conn.execute(f"SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints ORDER BY slug")
    return [touchpoint_from_row(row) for row in rows]


def load_keys(conn: sqlite3.Connection) -> list[ApiKey]:
    rows = conn.execute(
        "SELECT id, name, scope, hash, created_at, revoked_at FROM api_keys ORDER BY created_at"
    )
    return [ApiKey(*row) for row in rows]


def get_response(conn: sqlite3.Connection, response_id: str) -> Response | None:
    row = conn.execute(
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = ?", (response_id,)
    ).fetchone()
    return response_from_row(row) if row else None


def _add(counts: Counts, rows: Any) -> None:
    for score, count in rows:
        if count:
            counts[score] = counts.get(score, 0) + count


def _raw_query(
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    table: str = "responses",
) -> tuple[str, list[Any]]:
    """The WHERE clause selecting a touchpoint's raw responses in a window, by context."""
    sql = f"{table}.touchpoint_id = ?"
    args: list[Any] = [touchpoint_id]
    if since is not None:
        sql += f" AND {table}.created_at >= ?"
        args.append(since)
    if until is not None:
        sql += f" AND {table}.created_at < ?"
        args.append(until)
    for key, value in filters.items():
        sql += f" AND json_extract({table}.context, ?) = ?"
        args += [context_path(key), value]
    return sql, args


def context_path(key: str) -> str:
    """The JSON path of a context key (keys are letters, digits, '_', '.', '-': quoted)."""
    return f'$."{key}"'


def _raw_counts(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> Counts:
    where, args = _raw_query(touchpoint_id, since, until, filters)
    counts: Counts = {}
    _add(
        counts,
        conn.execute(f"SELECT score, count(*) FROM responses WHERE {where} GROUP BY score", args),
    )
    return counts


def whole_units(since: float | None, until: float | None, unit: int) -> tuple[int, int]:
    """The first and end (exclusive) whole `unit`-second spans inside [since, until)."""
    first = -(2**62) if since is None else math.ceil(since / unit)
    last = 2**62 if until is None else math.floor(until / unit)
    return first, last


def _partial_day(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float,
    until: float,
    filters: Mapping[str, str],
) -> Counts:
    """Part of a day: whole hours from hourly rollups, the minutes at the edges raw."""
    first, last = whole_units(since, until, HOUR)
    if filters or first >= last:
        return _raw_counts(conn, touchpoint_id, since, until, filters)
    counts: Counts = {}
    _add(
        counts,
        conn.execute(
            "SELECT score, sum(count) FROM hourly_rollups"
            " WHERE touchpoint_id = ? AND hour >= ? AND hour < ? GROUP BY score",
            (touchpoint_id, first, last),
        ),
    )
    for low, high in ((since, first * HOUR), (last * HOUR, until)):
        if low < high:
            _add(counts, _raw_counts(conn, touchpoint_id, low, high, {}).items())
    return counts


def count_scores(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> Counts:
    """How many responses gave each score in [since, until), optionally filtered by context.

    Whole UTC days come from the daily rollups (or, for one context filter, the
    context rollups), whole hours at the edges from the hourly rollups, and only
    the minutes left over from the raw responses. Several filters at once fall
    back to a scan of the window's responses (by the time index).
    """
    if len(filters) > 1:
        return _raw_counts(conn, touchpoint_id, since, until, filters)
    first, last = whole_units(since, until, DAY)
    if first >= last:
        assert since is not None
        assert until is not None
        return _partial_day(conn, touchpoint_id, since, until, filters)
    counts: Counts = {}
    if filters:
        ((key, value),) = filters.items()
        rows = conn.execute(
            "SELECT score, sum(count) FROM context_rollups WHERE touchpoint_id = ?"
            " AND key = ? AND value = ? AND day >= ? AND day < ? GROUP BY score",
            (touchpoint_id, key, value, first, last),
        )
    else:
        rows = conn.execute(
            "SELECT score, sum(count) FROM rollups"
            " WHERE touchpoint_id = ? AND day >= ? AND day < ? GROUP BY score",
            (touchpoint_id, first, last),
        )
    _add(counts, rows)
    if since is not None and since < first * DAY:
        _add(counts, _partial_day(conn, touchpoint_id, since, first * DAY, filters).items())
    if until is not None and last * DAY < until:
        _add(counts, _partial_day(conn, touchpoint_id, last * DAY, until, filters).items())
    return counts


def breakdown(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    key: str,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> dict[str, Counts]:
    """Score counts per value of context `key` (agent, team ...) in a window.

    Exact at any size: all time from the context totals, whole days from the
    context rollups, partial days (and any extra filters) from the raw responses
    (found by the time index, their context read with json_extract).
    """
    groups: dict[str, Counts] = {}

    def add(rows: Any) -> None:
        for value, score, count in rows:
            if count:
                group = groups.setdefault(value, {})
                group[score] = group.get(score, 0) + count

    def raw(low: float | None, high: float | None) -> None:
        where, args = _raw_query(touchpoint_id, low, high, filters, table="r")
        add(
            conn.execute(
                "SELECT json_extract(r.context, ?) AS value, r.score, count(*) FROM responses r"
                f" WHERE {where} AND value IS NOT NULL GROUP BY value, r.score",
                [context_path(key), *args],
            )
        )

    if filters:
        raw(since, until)
        return groups
    if since is None and until is None:
        add(
            conn.execute(
                "SELECT value, score, count FROM context_totals"
                " WHERE touchpoint_id = ? AND key = ?",
                (touchpoint_id, key),
            )
        )
        return groups
    first, last = whole_units(since, until, DAY)
    if first >= last:
        raw(since, until)
        return groups
    add(
        conn.execute(
            "SELECT value, score, sum(count) FROM context_rollups WHERE touchpoint_id = ?"
            " AND key = ? AND day >= ? AND day < ? GROUP BY value, score",
            (touchpoint_id, key, first, last),
        )
    )
    if since is not None and since < first * DAY:
        raw(since, first * DAY)
    if until is not None and last * DAY < until:
        raw(last * DAY, until)
    return groups


def totals(conn: sqlite3.Connection) -> tuple[dict[int, Counts], dict[int, Displays]]:
    """Every touchpoint's all-time score counts and displays, for the in-memory copy."""
    counts: dict[int, Counts] = {}
    for touchpoint_id, score, count in conn.execute(
        "SELECT touchpoint_id, score, sum(count) FROM rollups GROUP BY 1, 2"
    ):
        if count:
            counts.setdefault(touchpoint_id, {})[score] = count
    displays = {
        touchpoint_id: Displays(shown, answered)
        for touchpoint_id, shown, answered in conn.execute(
            "SELECT touchpoint_id, sum(count), sum(answered) FROM impressions GROUP BY 1"
        )
    }
    return counts, displays


def count_impressions(
    conn: sqlite3.Connection, touchpoint_id: int, since: float | None, until: float | None
) -> Displays:
    """Impressions and the ratings they led to are kept per hour: a window counts the hours
    that start inside it."""
    low = -(2**62) if since is None else math.ceil(since / HOUR)
    high = 2**62 if until is None else math.ceil(until / HOUR)
    shown, answered = conn.execute(
        "SELECT coalesce(sum(count), 0), coalesce(sum(answered), 0) FROM impressions"
        " WHERE touchpoint_id = ? AND hour >= ? AND hour < ?",
        (touchpoint_id, low, high),
    ).fetchone()
    return Displays(shown, answered)


def list_responses(
    conn: sqlite3.Connection, query: ResponseQuery, limit: int, after: tuple[float, str] | None
) -> list[Response]:
    """One page of matching responses, newest first, after the keyset cursor `after`."""
    where, args = _raw_query(query.touchpoint_id, query.since, query.until, query.filters)
    if query.min_score is not None:
        where += " AND score >= ?"
        args.append(query.min_score)
    if query.max_score is not None:
        where += " AND score <= ?"
        args.append(query.max_score)
    if query.has_comment is not None:
        where += " AND comment IS NOT NULL" if query.has_comment else " AND comment IS NULL"
    if query.subject is not None:
        where += " AND subject = ?"
        args.append(query.subject)
    if after is not None:
        where += " AND (created_at, id) < (?, ?)"
        args += list(after)
    rows = conn.execute(
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE {where}"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        [*args, limit],
    )
    return [response_from_row(row) for row in rows]


def context_keys(conn: sqlite3.Connection, touchpoint_id: int) -> list[str]:
    """The context keys a touchpoint's ratings carry, from the all-time totals (no scan)."""
    rows = conn.execute(
        "SELECT DISTINCT key FROM context_totals WHERE touchpoint_id = ? AND count > 0"
        " ORDER BY key",
        (touchpoint_id,),
    )
    return [key for (key,) in rows]
