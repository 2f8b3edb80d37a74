"""Read queries: plain functions of a sqlite3 connection, run in the reader's thread.

Score counts come from the daily rollups for every whole UTC day inside the
window, plus an indexed scan of the raw responses for the partial days at its
edges, so they are exact for any window and cost the same at any data size.
Context filters (agent=alice) use the context index instead.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from typing import Any

from scorelet.store.records import (
    RESPONSE_COLUMNS,
    TOUCHPOINT_COLUMNS,
    ApiKey,
    Response,
    response_from_row,
    touchpoint_from_row,
)
from scorelet.timeutil import DAY
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


def _raw_counts(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> Counts:
    sql = "SELECT score, count(*) FROM responses WHERE touchpoint_id = ?"
    args: list[Any] = [touchpoint_id]
    if since is not None:
        sql += " AND created_at >= ?"
        args.append(since)
    if until is not None:
        sql += " AND created_at < ?"
        args.append(until)
    for key, value in filters.items():
        sql += (
            " AND id IN (SELECT response_id FROM response_context"
            " WHERE touchpoint_id = ? AND key = ? AND value = ?)"
        )
        args += [touchpoint_id, key, value]
    counts: Counts = {}
    _add(counts, conn.execute(sql + " GROUP BY score", args))
    return counts


def count_scores(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> Counts:
    """How many responses gave each score in [since, until), optionally filtered by context."""
    if filters:
        return _raw_counts(conn, touchpoint_id, since, until, filters)
    first = -(2**62) if since is None else math.ceil(since / DAY)
    last = 2**62 if until is None else math.floor(until / DAY)
    if first >= last:  # the window lies within one or two partial days
        return _raw_counts(conn, touchpoint_id, since, until, {})
    counts: Counts = {}
    _add(
        counts,
        conn.execute(
            "SELECT score, sum(count) FROM rollups"
            " WHERE touchpoint_id = ? AND day >= ? AND day < ? GROUP BY score",
            (touchpoint_id, first, last),
        ),
    )
    if since is not None and since < first * DAY:
        _add(counts, _raw_counts(conn, touchpoint_id, since, first * DAY, {}).items())
    if until is not None and last * DAY < until:
        _add(counts, _raw_counts(conn, touchpoint_id, last * DAY, until, {}).items())
    return counts


def count_impressions(
    conn: sqlite3.Connection, touchpoint_id: int, since: float | None, until: float | None
) -> int:
    """Impressions are kept per hour: a window counts the hours that start inside it."""
    low = -(2**62) if since is None else math.ceil(since / 3600)
    high = 2**62 if until is None else math.ceil(until / 3600)
    row = conn.execute(
        "SELECT coalesce(sum(count), 0) FROM impressions"
        " WHERE touchpoint_id = ? AND hour >= ? AND hour < ?",
        (touchpoint_id, low, high),
    ).fetchone()
    total: int = row[0]
    return total
