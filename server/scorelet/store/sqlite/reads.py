"""Read queries: functions of the reader's connection, each inside one read transaction.

Counts are exact for any window at every instant and cost about the same at
any data size. A window is cut into what rollups can answer (whole UTC days,
then whole hours at the edges) and what they can't (the minutes left at the
very edges, read from the raw rows through a covering index). Rollups hold
everything up to the fold's watermark; for the parts they answer, the
changes committed after it (`Unfolded`) are added on top: new versions of
ratings count +1, versions they replaced or deleted -1.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from scorelet.displays import Displays
from scorelet.eligibility import Seen
from scorelet.rollups import Counted, hour_of, matches
from scorelet.store.interface import Counts, History, Registry, Snapshot
from scorelet.store.records import Display, Person, Response, ResponseQuery, User
from scorelet.store.seen import seen_from
from scorelet.store.sqlite import tags
from scorelet.store.sqlite.rows import (
    COUNTED_COLUMNS,
    KEY_COLUMNS,
    RESPONSE_COLUMNS,
    TOUCHPOINT_COLUMNS,
    USER_COLUMNS,
    context_path,
    counted,
    key_from_row,
    response_from_row,
    touchpoint_from_row,
    user_from_row,
)
from scorelet.timeutil import DAY, HOUR

Span = tuple[float, float]


def watermark(conn: sqlite3.Connection) -> int:
    value: int = conn.execute("SELECT watermark FROM fold_state").fetchone()[0]
    return value


def unfolded(conn: sqlite3.Connection) -> int:
    mark = watermark(conn)
    count: int = conn.execute(
        "SELECT (SELECT count(*) FROM responses WHERE seq > ?)"
        " + (SELECT count(*) FROM undone WHERE seq > ?)",
        (mark, mark),
    ).fetchone()[0]
    return count


class Unfolded:
    """The changes committed after the watermark, for one touchpoint or all."""

    def __init__(self, conn: sqlite3.Connection, touchpoint_id: int | None) -> None:
        mark = watermark(conn)
        # `+touchpoint_id`: read the few rows past the watermark by rowid. Left to itself the
        # planner walks the touchpoint's time index instead, every row it has (72 ms at 1M).
        where, args = (
            ("", ()) if touchpoint_id is None else (" AND +touchpoint_id = ?", (touchpoint_id,))
        )
        self.changes: list[tuple[Counted, int]] = [
            (counted(row), 1)
            for row in conn.execute(
                f"SELECT {COUNTED_COLUMNS} FROM responses WHERE seq > ?{where}", (mark, *args)
            )
        ]
        # A replaced or deleted version counts against the rollups only if they hold it.
        self.changes += [
            (counted(row), -1)
            for row in conn.execute(
                f"SELECT {COUNTED_COLUMNS} FROM undone WHERE seq > ? AND old_seq <= ?{where}",
                (mark, mark, *args),
            )
        ]

    def within(
        self, spans: Sequence[Span], filters: Mapping[str, str]
    ) -> Iterator[tuple[Counted, int]]:
        for change, sign in self.changes:
            if any(low <= change.created_at < high for low, high in spans) and matches(
                change.context, filters
            ):
                yield change, sign


class Window:
    """Exact counts for one touchpoint, read in one transaction."""

    def __init__(self, conn: sqlite3.Connection, touchpoint_id: int) -> None:
        self.conn = conn
        self.touchpoint_id = touchpoint_id
        self._unfolded: Unfolded | None = None

    @property
    def unfolded(self) -> Unfolded:
        if self._unfolded is None:
            self._unfolded = Unfolded(self.conn, self.touchpoint_id)
        return self._unfolded

    def _add_unfolded(self, counts: Counts, spans: list[Span], filters: Mapping[str, str]) -> None:
        for change, sign in self.unfolded.within(spans, filters):
            counts[change.score] = counts.get(change.score, 0) + sign

    def raw(self, since: float | None, until: float | None, filters: Mapping[str, str]) -> Counts:
        where, args = _raw_where(self.touchpoint_id, since, until, filters)
        rows = self.conn.execute(
            f"SELECT score, count(*) FROM responses WHERE {where} GROUP BY score", args
        )
        return {score: count for score, count in rows}

    def counts(
        self, since: float | None, until: float | None, filters: Mapping[str, str]
    ) -> Counts:
        """Score counts in [since, until), optionally filtered by context.

        Whole UTC days come from the daily rollups (or, for one filter, the
        context rollups), whole hours from the hourly rollups, the rest raw.
        Several filters at once read the window's raw rows.
        """
        if len(filters) > 1:
            return self.raw(since, until, filters)
        first, last = whole_units(since, until, DAY)
        if first >= last:
            assert since is not None
            assert until is not None
            return self._partial_day(since, until, filters)
        if filters:
            ((key, value),) = filters.items()
            rows = self.conn.execute(
                "SELECT score, sum(count) FROM context_rollups WHERE touchpoint_id = ?"
                " AND key = ? AND value = ? AND day >= ? AND day < ? GROUP BY score",
                (self.touchpoint_id, key, value, first, last),
            )
        else:
            rows = self.conn.execute(
                "SELECT score, sum(count) FROM rollups"
                " WHERE touchpoint_id = ? AND day >= ? AND day < ? GROUP BY score",
                (self.touchpoint_id, first, last),
            )
        counts: Counts = {}
        _add(counts, rows)
        self._add_unfolded(counts, [(first * DAY, last * DAY)], filters)
        if since is not None and since < first * DAY:
            _add(counts, self._partial_day(since, first * DAY, filters).items())
        if until is not None and last * DAY < until:
            _add(counts, self._partial_day(last * DAY, until, filters).items())
        return _nonzero(counts)

    def _partial_day(self, since: float, until: float, filters: Mapping[str, str]) -> Counts:
        """Part of a day: whole hours from hourly rollups, the minutes at the edges raw."""
        first, last = whole_units(since, until, HOUR)
        if filters or first >= last:
            return self.raw(since, until, filters)
        counts: Counts = {}
        _add(
            counts,
            self.conn.execute(
                "SELECT score, sum(count) FROM hourly_rollups"
                " WHERE touchpoint_id = ? AND hour >= ? AND hour < ? GROUP BY score",
                (self.touchpoint_id, first, last),
            ),
        )
        self._add_unfolded(counts, [(first * HOUR, last * HOUR)], {})
        for low, high in ((since, first * HOUR), (last * HOUR, until)):
            if low < high:
                _add(counts, self.raw(low, high, {}).items())
        return _nonzero(counts)

    def breakdown(
        self, key: str, since: float | None, until: float | None, filters: Mapping[str, str]
    ) -> dict[str, Counts]:
        """Score counts per value of context `key` (agent, team ...) in a window.

        All time from the context totals, whole days from the context rollups,
        partial days (and any extra filters) from the raw rows.
        """
        groups: dict[str, Counts] = {}

        def add(rows: Any) -> None:
            for value, score, count in rows:
                if count:
                    group = groups.setdefault(value, {})
                    group[score] = group.get(score, 0) + count

        def raw(low: float | None, high: float | None) -> None:
            where, args = _raw_where(self.touchpoint_id, low, high, filters)
            add(
                self.conn.execute(
                    "SELECT json_extract(context, ?) AS value, score, count(*) FROM responses"
                    f" WHERE {where} AND value IS NOT NULL GROUP BY value, score",
                    [context_path(key), *args],
                )
            )

        def unfolded(spans: list[Span]) -> None:
            add(
                (change.context[key], change.score, sign)
                for change, sign in self.unfolded.within(spans, {})
                if key in change.context
            )

        if filters:
            raw(since, until)
        elif since is None and until is None:
            add(
                self.conn.execute(
                    "SELECT value, score, count FROM context_totals"
                    " WHERE touchpoint_id = ? AND key = ?",
                    (self.touchpoint_id, key),
                )
            )
            unfolded([(-math.inf, math.inf)])
        else:
            first, last = whole_units(since, until, DAY)
            if first >= last:
                raw(since, until)
            else:
                add(
                    self.conn.execute(
                        "SELECT value, score, sum(count) FROM context_rollups"
                        " WHERE touchpoint_id = ? AND key = ? AND day >= ? AND day < ?"
                        " GROUP BY value, score",
                        (self.touchpoint_id, key, first, last),
                    )
                )
                unfolded([(first * DAY, last * DAY)])
                if since is not None and since < first * DAY:
                    raw(since, first * DAY)
                if until is not None and last * DAY < until:
                    raw(last * DAY, until)
        return {value: _nonzero(counts) for value, counts in groups.items() if _nonzero(counts)}

    def displays(self, since: float | None, until: float | None) -> Displays:
        """Impressions and the ratings they led to, both kept per hour: a window counts
        the hours that start inside it (answers folded so far, plus the unfolded ones)."""
        low = -(2**62) if since is None else math.ceil(since / HOUR)
        high = 2**62 if until is None else math.ceil(until / HOUR)
        shown, answered = self.conn.execute(
            "SELECT coalesce(sum(count), 0), coalesce(sum(answered), 0) FROM impressions"
            " WHERE touchpoint_id = ? AND hour >= ? AND hour < ?",
            (self.touchpoint_id, low, high),
        ).fetchone()
        for change, sign in self.unfolded.changes:
            if change.shown and low <= hour_of(change.created_at) < high:
                answered += sign
        return Displays(shown, answered)


def whole_units(since: float | None, until: float | None, unit: int) -> tuple[int, int]:
    """The first and end (exclusive) whole `unit`-second spans inside [since, until)."""
    first = -(2**62) if since is None else math.ceil(since / unit)
    last = 2**62 if until is None else math.floor(until / unit)
    return first, last


def _raw_where(
    touchpoint_id: int, since: float | None, until: float | None, filters: Mapping[str, str]
) -> tuple[str, list[Any]]:
    sql = "touchpoint_id = ?"
    args: list[Any] = [touchpoint_id]
    if since is not None:
        sql += " AND created_at >= ?"
        args.append(since)
    if until is not None:
        sql += " AND created_at < ?"
        args.append(until)
    for key, value in filters.items():
        sql += " AND json_extract(context, ?) = ?"
        args += [context_path(key), value]
    return sql, args


def _add(counts: Counts, rows: Any) -> None:
    for score, count in rows:
        if count:
            counts[score] = counts.get(score, 0) + count


def _nonzero(counts: Counts) -> Counts:
    return {score: count for score, count in counts.items() if count}


# -- what the store's functions call ------------------------------------------------------


def counts(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str | None = None,
) -> Counts:
    if tag is not None:
        return tags.tagged_counts(conn, touchpoint_id, tag, since, until, filters)
    return Window(conn, touchpoint_id).counts(since, until, filters)


def displays(
    conn: sqlite3.Connection, touchpoint_id: int, since: float | None, until: float | None
) -> Displays:
    return Window(conn, touchpoint_id).displays(since, until)


def series(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    buckets: Sequence[Span],
    filters: Mapping[str, str],
    tag: str | None = None,
) -> list[tuple[Counts, Displays | None]]:
    if tag is not None:
        return [
            (tags.tagged_counts(conn, touchpoint_id, tag, start, end, filters), None)
            for start, end in buckets
        ]
    window = Window(conn, touchpoint_id)
    return [
        (window.counts(start, end, filters), None if filters else window.displays(start, end))
        for start, end in buckets
    ]


def breakdown(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    key: str,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str | None = None,
) -> dict[str, Counts]:
    if tag is not None:
        return _tagged_breakdown(conn, touchpoint_id, key, since, until, filters, tag)
    return Window(conn, touchpoint_id).breakdown(key, since, until, filters)


def _tagged_breakdown(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    key: str,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str,
) -> dict[str, Counts]:
    """A breakdown of the ratings carrying `tag`: their rows, found through the tag index."""
    where, args = _raw_where(touchpoint_id, since, until, filters)
    groups: dict[str, Counts] = {}
    for value, score, count in conn.execute(
        "SELECT json_extract(context, ?) AS value, score, count(*) FROM responses"
        f" WHERE {where} AND value IS NOT NULL AND id IN"
        " (SELECT response_id FROM response_tags WHERE touchpoint_id = ? AND tag = ?)"
        " GROUP BY value, score",
        [context_path(key), *args, touchpoint_id, tag],
    ):
        groups.setdefault(value, {})[score] = count
    return groups


def response(conn: sqlite3.Connection, response_id: str) -> Response | None:
    row = conn.execute(
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = ?", (response_id,)
    ).fetchone()
    return tags.annotate(conn, [response_from_row(row)])[0] if row else None


def list_responses(
    conn: sqlite3.Connection, query: ResponseQuery, limit: int, after: tuple[float, str] | None
) -> list[Response]:
    """One page of matching responses, newest first, after the keyset cursor `after`."""
    where, args = _raw_where(query.touchpoint_id, query.since, query.until, query.filters)
    if query.min_score is not None:
        where += " AND score >= ?"
        args.append(query.min_score)
    if query.max_score is not None:
        where += " AND score <= ?"
        args.append(query.max_score)
    if query.has_comment is not None or query.search:
        without = query.has_comment is False
        where += " AND comment IS NULL" if without else " AND comment IS NOT NULL"
    where, args = _searching(where, args, query.search)
    if query.subject is not None:
        where += " AND subject = ?"
        args.append(query.subject)
    if query.tag is not None:
        where += (
            " AND id IN (SELECT response_id FROM response_tags WHERE touchpoint_id = ? AND tag = ?)"
        )
        args += [query.touchpoint_id, query.tag]
    if query.person is not None:
        where += " AND person = ?"
        args.append(query.person)
    if after is not None:
        where += " AND (created_at, id) < (?, ?)"
        args += list(after)
    rows = conn.execute(
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE {where}"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        [*args, limit],
    )
    return tags.annotate(conn, [response_from_row(row) for row in rows])


def _searching(where: str, args: list[Any], words: Sequence[str]) -> tuple[str, list[Any]]:
    """Every word of a search must be in the comment (search.contains, registered as a
    function on the connection: SQLite folds only ASCII case itself)."""
    for word in words:
        where += " AND scorelet_contains(comment, ?)"
        args.append(word)
    return where, args


def commented(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    search: Sequence[str],
    tag: str | None = None,
) -> list[Counted]:
    """The commented ratings of a window, through the index that holds only those."""
    where, args = _raw_where(touchpoint_id, since, until, filters)
    where, args = _searching(where + " AND comment IS NOT NULL", args, search)
    if tag is not None:
        where += (
            " AND id IN (SELECT response_id FROM response_tags WHERE touchpoint_id = ? AND tag = ?)"
        )
        args = [*args, touchpoint_id, tag]
    rows = conn.execute(f"SELECT {COUNTED_COLUMNS} FROM responses WHERE {where}", args)
    return [counted(row) for row in rows]


def users(conn: sqlite3.Connection) -> list[User]:
    rows = conn.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email")
    return [user_from_row(row) for row in rows]


def user(conn: sqlite3.Connection, column: str, value: str) -> User | None:
    assert column in ("id", "email")
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE {column} = ?", (value,)).fetchone()
    return user_from_row(row) if row else None


def snapshot(conn: sqlite3.Connection) -> Snapshot:
    """Touchpoints, keys, and all-time counts: the score totals plus what is unfolded."""
    touchpoints = [
        touchpoint_from_row(row)
        for row in conn.execute(f"SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints ORDER BY slug")
    ]
    keys = [
        key_from_row(row)
        for row in conn.execute(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at")
    ]
    totals: dict[int, Counts] = {}
    for touchpoint_id, score, count in conn.execute(
        "SELECT touchpoint_id, score, count FROM score_totals WHERE count != 0"
    ):
        totals.setdefault(touchpoint_id, {})[score] = count
    shown: dict[int, list[int]] = {
        touchpoint_id: [impressions, answered]
        for touchpoint_id, impressions, answered in conn.execute(
            "SELECT touchpoint_id, sum(count), sum(answered) FROM impressions GROUP BY 1"
        )
    }
    marks = dict(conn.execute("SELECT touchpoint_id, mark FROM annotation_marks").fetchall())
    for change, sign in Unfolded(conn, None).changes:
        counts = totals.setdefault(change.touchpoint_id, {})
        counts[change.score] = counts.get(change.score, 0) + sign
        if change.shown:
            shown.setdefault(change.touchpoint_id, [0, 0])[1] += sign
    return Snapshot(
        touchpoints,
        keys,
        {tp: _nonzero(counts) for tp, counts in totals.items()},
        {tp: Displays(impressions, answered) for tp, (impressions, answered) in shown.items()},
        marks,
        dict(conn.execute("SELECT name, value FROM settings").fetchall()),
    )


def context_keys(conn: sqlite3.Connection, touchpoint_id: int) -> list[str]:
    """Every context key the touchpoint's ratings carry (export columns): the all-time
    totals, plus keys only unfolded ratings have so far."""
    keys = {
        key
        for (key,) in conn.execute(
            "SELECT DISTINCT key FROM context_totals WHERE touchpoint_id = ? AND count > 0",
            (touchpoint_id,),
        )
    }
    keys.update(
        key
        for change, sign in Unfolded(conn, touchpoint_id).changes
        if sign > 0
        for key in change.context
    )
    return sorted(keys)


def recent_clients(conn: sqlite3.Connection, since: float) -> list[tuple[int, str, str, float]]:
    """(touchpoint, client, rating id, created_at) of anonymous ratings since `since`."""
    rows: list[tuple[int, str, str, float]] = []
    for (touchpoint_id,) in conn.execute("SELECT id FROM touchpoints").fetchall():
        rows += conn.execute(
            "SELECT touchpoint_id, client, id, created_at FROM responses"
            " WHERE touchpoint_id = ? AND created_at >= ? AND client IS NOT NULL"
            " ORDER BY created_at",
            (touchpoint_id, since),
        ).fetchall()
    return rows


def registry(conn: sqlite3.Connection) -> Registry:
    snapshot_now = snapshot(conn)
    retired = dict(conn.execute("SELECT slug, token_version FROM retired_slugs"))
    people = [
        Person(row[0], json.loads(row[1]), row[2], row[3])
        for row in conn.execute(
            "SELECT id, traits, first_seen_at, last_seen_at FROM people ORDER BY id"
        )
    ]
    return Registry(
        snapshot_now.touchpoints,
        retired,
        snapshot_now.keys,
        users(conn),
        snapshot_now.settings,
        people,
    )


def person_displays(conn: sqlite3.Connection, touchpoint_id: int) -> list[tuple[str, str, float]]:
    rows = conn.execute(
        "SELECT person, kind, at FROM person_displays WHERE touchpoint_id = ? ORDER BY at, id",
        (touchpoint_id,),
    )
    return [(person, kind, at) for person, kind, at in rows]


def impression_hours(conn: sqlite3.Connection, touchpoint_id: int) -> list[tuple[int, int]]:
    return [
        (hour, count)
        for hour, count in conn.execute(
            "SELECT hour, count FROM impressions WHERE touchpoint_id = ? AND count > 0"
            " ORDER BY hour",
            (touchpoint_id,),
        )
    ]


# -- people ------------------------------------------------------------------------------


def seen(conn: sqlite3.Connection, person: str) -> dict[int, Seen]:
    """Per touchpoint, what the person answered and was shown: two indexed aggregates."""
    answers = conn.execute(
        "SELECT touchpoint_id, count(*), max(created_at) FROM responses WHERE person = ?"
        " GROUP BY touchpoint_id",
        (person,),
    )
    shown = conn.execute(
        "SELECT touchpoint_id, kind, count(*), max(at) FROM person_displays WHERE person = ?"
        " GROUP BY touchpoint_id, kind",
        (person,),
    )
    return seen_from(answers, shown)


def history(conn: sqlite3.Connection, person: str) -> History:
    row = conn.execute(
        "SELECT id, traits, first_seen_at, last_seen_at FROM people WHERE id = ?", (person,)
    ).fetchone()
    responses = [
        response_from_row(r)
        for r in conn.execute(
            f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE person = ?"
            " ORDER BY created_at DESC, id DESC",
            (person,),
        )
    ]
    displays = [
        Display(*r)
        for r in conn.execute(
            "SELECT touchpoint_id, kind, at FROM person_displays WHERE person = ?"
            " ORDER BY at DESC, id DESC",
            (person,),
        )
    ]
    found = Person(row[0], json.loads(row[1]), row[2], row[3]) if row else None
    return History(found, responses, displays)
