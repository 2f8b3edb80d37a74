"""Read queries on PostgreSQL, each inside one REPEATABLE READ snapshot.

The same cut as SQLite's (store/sqlite/reads.py): whole UTC days from the
daily rollups, whole hours from the hourly ones, the minutes at a window's
edges from the raw rows; for the parts rollups answer, the changes written
by transactions the last fold didn't take (`xid >= watermark`) are added.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scorelet import search
from scorelet.displays import Displays
from scorelet.rollups import Counted, hour_of, matches
from scorelet.store.columns import (
    KEY_COLUMNS,
    TOUCHPOINT_COLUMNS,
    USER_COLUMNS,
    key_from_row,
    touchpoint_from_row,
    user_from_row,
)
from scorelet.store.interface import Counts, Registry, Snapshot
from scorelet.store.postgres.connection import Connection
from scorelet.store.records import Person, Response, ResponseQuery
from scorelet.timeutil import DAY, HOUR

Span = tuple[float, float]
RESPONSE_COLUMNS = (
    "id, touchpoint_id, score, comment, subject, context, created_at, updated_at, shown, person"
)
COUNTED_COLUMNS = "touchpoint_id, created_at, score, context, shown"
# A search reads commented ratings in pages of this many, and keeps those that match.
SEARCH_BATCH = 500


def response_from_row(row: Sequence[Any]) -> Response:
    return Response(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], person=row[9]
    )


def counted(row: Sequence[Any]) -> Counted:
    return Counted(row[0], row[1], row[2], row[3], row[4])


async def watermark(conn: Connection) -> int:
    cursor = await conn.execute("SELECT watermark FROM fold_state")
    row = await cursor.fetchone()
    assert row is not None
    value: int = row[0]
    return value


async def all_rows(conn: Connection, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    cursor = await conn.execute(sql, args)
    return await cursor.fetchall()


class Unfolded:
    """The changes written after the watermark, for one touchpoint or all."""

    def __init__(self) -> None:
        self.changes: list[tuple[Counted, int]] = []
        self.impressions: list[tuple[int, int]] = []  # (touchpoint, hour) per logged display

    @classmethod
    async def read(cls, conn: Connection, touchpoint_id: int | None) -> Unfolded:
        mark = await watermark(conn)
        where, args = (
            ("", ()) if touchpoint_id is None else (" AND touchpoint_id = %s", (touchpoint_id,))
        )
        found = cls()
        found.changes = [
            (counted(row), 1)
            for row in await all_rows(
                conn,
                f"SELECT {COUNTED_COLUMNS} FROM responses WHERE xid >= %s{where}",
                (mark, *args),
            )
        ]
        found.changes += [
            (counted(row), -1)
            for row in await all_rows(
                conn,
                f"SELECT {COUNTED_COLUMNS} FROM undone WHERE xid >= %s AND old_xid < %s{where}",
                (mark, mark, *args),
            )
        ]
        found.impressions = [
            (row[0], row[1])
            for row in await all_rows(
                conn,
                f"SELECT touchpoint_id, hour FROM impression_log WHERE xid >= %s{where}",
                (mark, *args),
            )
        ]
        return found

    def within(
        self, spans: Sequence[Span], filters: Mapping[str, str]
    ) -> list[tuple[Counted, int]]:
        return [
            (change, sign)
            for change, sign in self.changes
            if any(low <= change.created_at < high for low, high in spans)
            and matches(change.context, filters)
        ]


class Window:
    """Exact counts for one touchpoint, read in one snapshot."""

    def __init__(self, conn: Connection, touchpoint_id: int) -> None:
        self.conn = conn
        self.touchpoint_id = touchpoint_id
        self._unfolded: Unfolded | None = None

    async def unfolded(self) -> Unfolded:
        if self._unfolded is None:
            self._unfolded = await Unfolded.read(self.conn, self.touchpoint_id)
        return self._unfolded

    async def _add_unfolded(
        self, counts: Counts, spans: list[Span], filters: Mapping[str, str]
    ) -> None:
        for change, sign in (await self.unfolded()).within(spans, filters):
            counts[change.score] = counts.get(change.score, 0) + sign

    async def raw(
        self, since: float | None, until: float | None, filters: Mapping[str, str]
    ) -> Counts:
        where, args = _raw_where(self.touchpoint_id, since, until, filters)
        rows = await all_rows(
            self.conn, f"SELECT score, count(*) FROM responses WHERE {where} GROUP BY score", args
        )
        return {score: count for score, count in rows}

    async def counts(
        self, since: float | None, until: float | None, filters: Mapping[str, str]
    ) -> Counts:
        if len(filters) > 1:
            return await self.raw(since, until, filters)
        first, last = whole_units(since, until, DAY)
        if first >= last:
            assert since is not None
            assert until is not None
            return await self._partial_day(since, until, filters)
        if filters:
            ((key, value),) = filters.items()
            rows = await all_rows(
                self.conn,
                "SELECT score, sum(count)::bigint FROM context_rollups WHERE touchpoint_id = %s"
                " AND key = %s AND value = %s AND day >= %s AND day < %s GROUP BY score",
                (self.touchpoint_id, key, value, first, last),
            )
        else:
            rows = await all_rows(
                self.conn,
                "SELECT score, sum(count)::bigint FROM rollups"
                " WHERE touchpoint_id = %s AND day >= %s AND day < %s GROUP BY score",
                (self.touchpoint_id, first, last),
            )
        counts: Counts = {}
        _add(counts, rows)
        await self._add_unfolded(counts, [(first * DAY, last * DAY)], filters)
        if since is not None and since < first * DAY:
            _add(counts, (await self._partial_day(since, first * DAY, filters)).items())
        if until is not None and last * DAY < until:
            _add(counts, (await self._partial_day(last * DAY, until, filters)).items())
        return _nonzero(counts)

    async def _partial_day(self, since: float, until: float, filters: Mapping[str, str]) -> Counts:
        first, last = whole_units(since, until, HOUR)
        if filters or first >= last:
            return await self.raw(since, until, filters)
        counts: Counts = {}
        _add(
            counts,
            await all_rows(
                self.conn,
                "SELECT score, sum(count)::bigint FROM hourly_rollups"
                " WHERE touchpoint_id = %s AND hour >= %s AND hour < %s GROUP BY score",
                (self.touchpoint_id, first, last),
            ),
        )
        await self._add_unfolded(counts, [(first * HOUR, last * HOUR)], {})
        for low, high in ((since, first * HOUR), (last * HOUR, until)):
            if low < high:
                _add(counts, (await self.raw(low, high, {})).items())
        return _nonzero(counts)

    async def breakdown(
        self, key: str, since: float | None, until: float | None, filters: Mapping[str, str]
    ) -> dict[str, Counts]:
        groups: dict[str, Counts] = {}

        def add(rows: Any) -> None:
            for value, score, count in rows:
                if count:
                    group = groups.setdefault(value, {})
                    group[score] = group.get(score, 0) + count

        async def raw(low: float | None, high: float | None) -> None:
            where, args = _raw_where(self.touchpoint_id, low, high, filters)
            add(
                await all_rows(
                    self.conn,
                    "SELECT context->>%s AS value, score, count(*) FROM responses"
                    f" WHERE {where} AND context ? %s GROUP BY 1, 2",
                    [key, *args, key],
                )
            )

        async def unfolded(spans: list[Span]) -> None:
            add(
                (change.context[key], change.score, sign)
                for change, sign in (await self.unfolded()).within(spans, {})
                if key in change.context
            )

        if filters:
            await raw(since, until)
        elif since is None and until is None:
            add(
                await all_rows(
                    self.conn,
                    "SELECT value, score, count FROM context_totals"
                    " WHERE touchpoint_id = %s AND key = %s",
                    (self.touchpoint_id, key),
                )
            )
            await unfolded([(-math.inf, math.inf)])
        else:
            first, last = whole_units(since, until, DAY)
            if first >= last:
                await raw(since, until)
            else:
                add(
                    await all_rows(
                        self.conn,
                        "SELECT value, score, sum(count)::bigint FROM context_rollups"
                        " WHERE touchpoint_id = %s AND key = %s AND day >= %s AND day < %s"
                        " GROUP BY value, score",
                        (self.touchpoint_id, key, first, last),
                    )
                )
                await unfolded([(first * DAY, last * DAY)])
                if since is not None and since < first * DAY:
                    await raw(since, first * DAY)
                if until is not None and last * DAY < until:
                    await raw(last * DAY, until)
        return {value: _nonzero(counts) for value, counts in groups.items() if _nonzero(counts)}

    async def displays(self, since: float | None, until: float | None) -> Displays:
        low = -(2**62) if since is None else math.ceil(since / HOUR)
        high = 2**62 if until is None else math.ceil(until / HOUR)
        rows = await all_rows(
            self.conn,
            "SELECT coalesce(sum(count), 0), coalesce(sum(answered), 0) FROM impressions"
            " WHERE touchpoint_id = %s AND hour >= %s AND hour < %s",
            (self.touchpoint_id, low, high),
        )
        shown, answered = int(rows[0][0]), int(rows[0][1])
        unfolded = await self.unfolded()
        shown += sum(1 for _, hour in unfolded.impressions if low <= hour < high)
        for change, sign in unfolded.changes:
            if change.shown and low <= hour_of(change.created_at) < high:
                answered += sign
        return Displays(shown, answered)


def whole_units(since: float | None, until: float | None, unit: int) -> tuple[int, int]:
    first = -(2**62) if since is None else math.ceil(since / unit)
    last = 2**62 if until is None else math.floor(until / unit)
    return first, last


def _raw_where(
    touchpoint_id: int, since: float | None, until: float | None, filters: Mapping[str, str]
) -> tuple[str, list[Any]]:
    sql = "touchpoint_id = %s"
    args: list[Any] = [touchpoint_id]
    if since is not None:
        sql += " AND created_at >= %s"
        args.append(since)
    if until is not None:
        sql += " AND created_at < %s"
        args.append(until)
    for key, value in filters.items():
        sql += " AND context->>%s = %s"
        args += [key, value]
    return sql, args


def _add(counts: Counts, rows: Any) -> None:
    for score, count in rows:
        if count:
            counts[score] = counts.get(score, 0) + int(count)


def _nonzero(counts: Counts) -> Counts:
    return {score: count for score, count in counts.items() if count}


# -- what the backend calls ---------------------------------------------------------------


async def series(
    conn: Connection, touchpoint_id: int, buckets: Sequence[Span], filters: Mapping[str, str]
) -> list[tuple[Counts, Displays | None]]:
    window = Window(conn, touchpoint_id)
    return [
        (
            await window.counts(start, end, filters),
            None if filters else await window.displays(start, end),
        )
        for start, end in buckets
    ]


async def response(conn: Connection, response_id: str) -> Response | None:
    rows = await all_rows(
        conn, f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = %s", (response_id,)
    )
    return response_from_row(rows[0]) if rows else None


async def list_responses(
    conn: Connection, query: ResponseQuery, limit: int, after: tuple[float, str] | None
) -> list[Response]:
    where, args = _raw_where(query.touchpoint_id, query.since, query.until, query.filters)
    if query.min_score is not None:
        where += " AND score >= %s"
        args.append(query.min_score)
    if query.max_score is not None:
        where += " AND score <= %s"
        args.append(query.max_score)
    if query.has_comment is not None or query.search:
        without = query.has_comment is False
        where += " AND comment IS NULL" if without else " AND comment IS NOT NULL"
    if query.subject is not None:
        where += " AND subject = %s"
        args.append(query.subject)
    if query.tag is not None:
        where += (
            " AND id IN (SELECT response_id FROM response_tags"
            " WHERE touchpoint_id = %s AND tag = %s)"
        )
        args += [query.touchpoint_id, query.tag]
    if query.person is not None:
        where += " AND person = %s"
        args.append(query.person)
    if not query.search:
        return await _page(conn, where, args, limit, after)
    found: list[Response] = []
    while len(found) < limit:  # the commented rows, newest first, until a page matches
        batch = await _page(conn, where, args, max(limit, SEARCH_BATCH), after)
        found += [r for r in batch if search.matches(r.comment, query.search)]
        if len(batch) < max(limit, SEARCH_BATCH):
            break
        after = (batch[-1].created_at, batch[-1].id)
    return found[:limit]


async def _page(
    conn: Connection, where: str, args: list[Any], limit: int, after: tuple[float, str] | None
) -> list[Response]:
    if after is not None:
        where += " AND (created_at, id) < (%s, %s)"
        args = [*args, *after]
    rows = await all_rows(
        conn,
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE {where}"
        " ORDER BY created_at DESC, id DESC LIMIT %s",
        [*args, limit],
    )
    return [response_from_row(row) for row in rows]


async def commented(
    conn: Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    words: Sequence[str],
    tag: str | None = None,
) -> list[Counted]:
    """The commented ratings of a window (through the index that holds only those) whose
    comment holds every word: search.py's case folding, applied here as SQLite applies it
    in its function (PostgreSQL's own lower() and ILIKE fold less: "straße", "STRASSE")."""
    where, args = _raw_where(touchpoint_id, since, until, filters)
    if tag is not None:
        where += " AND id IN (SELECT response_id FROM response_tags WHERE tag = %s)"
        args = [*args, tag]
    rows = await all_rows(
        conn,
        f"SELECT {COUNTED_COLUMNS}, comment FROM responses WHERE {where} AND comment IS NOT NULL",
        args,
    )
    terms = tuple(words)
    return [counted(row) for row in rows if search.matches(row[-1], terms)]


async def snapshot(conn: Connection) -> Snapshot:
    """Touchpoints, keys and all-time counts: the totals plus what is unfolded. Small tables
    only, so another process's change costs a cheap resync."""
    touchpoints = [
        touchpoint_from_row(row)
        for row in await all_rows(
            conn, f"SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints ORDER BY slug"
        )
    ]
    keys = [
        key_from_row(row)
        for row in await all_rows(conn, f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at")
    ]
    totals: dict[int, Counts] = {}
    for touchpoint_id, score, count in await all_rows(
        conn, "SELECT touchpoint_id, score, count FROM score_totals WHERE count != 0"
    ):
        totals.setdefault(touchpoint_id, {})[score] = int(count)
    shown: dict[int, list[int]] = {
        touchpoint_id: [int(impressions), int(answered)]
        for touchpoint_id, impressions, answered in await all_rows(
            conn, "SELECT touchpoint_id, impressions, answered FROM display_totals"
        )
    }
    unfolded = await Unfolded.read(conn, None)
    for change, sign in unfolded.changes:
        counts = totals.setdefault(change.touchpoint_id, {})
        counts[change.score] = counts.get(change.score, 0) + sign
        if change.shown:
            shown.setdefault(change.touchpoint_id, [0, 0])[1] += sign
    for touchpoint_id, _ in unfolded.impressions:
        shown.setdefault(touchpoint_id, [0, 0])[0] += 1
    return Snapshot(
        touchpoints,
        keys,
        {tp: _nonzero(counts) for tp, counts in totals.items()},
        {tp: Displays(impressions, answered) for tp, (impressions, answered) in shown.items()},
        settings=dict(await all_rows(conn, "SELECT name, value FROM settings")),
    )


async def context_keys(conn: Connection, touchpoint_id: int) -> list[str]:
    keys = {
        row[0]
        for row in await all_rows(
            conn,
            "SELECT DISTINCT key FROM context_totals WHERE touchpoint_id = %s AND count > 0",
            (touchpoint_id,),
        )
    }
    unfolded = await Unfolded.read(conn, touchpoint_id)
    keys.update(key for change, sign in unfolded.changes if sign > 0 for key in change.context)
    return sorted(keys)


async def unfolded_count(conn: Connection) -> int:
    mark = await watermark(conn)
    rows = await all_rows(
        conn,
        "SELECT (SELECT count(*) FROM responses WHERE xid >= %s)"
        " + (SELECT count(*) FROM undone WHERE xid >= %s)"
        " + (SELECT count(*) FROM impression_log WHERE xid >= %s)",
        (mark, mark, mark),
    )
    return int(rows[0][0])


async def registry(conn: Connection) -> Registry:
    now = await snapshot(conn)
    retired = await all_rows(conn, "SELECT slug, token_version FROM retired_slugs")
    users = await all_rows(conn, f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email")
    people = await all_rows(
        conn, "SELECT id, traits, first_seen_at, last_seen_at FROM people ORDER BY id"
    )
    return Registry(
        now.touchpoints,
        {slug: int(v) for slug, v in retired},
        now.keys,
        [user_from_row(row) for row in users],
        now.settings,
        [Person(*row) for row in people],
    )


async def person_displays(conn: Connection, touchpoint_id: int) -> list[tuple[str, str, float]]:
    rows = await all_rows(
        conn,
        "SELECT person, kind, at FROM person_displays WHERE touchpoint_id = %s ORDER BY at, id",
        (touchpoint_id,),
    )
    return [(person, kind, at) for person, kind, at in rows]


async def impression_hours(conn: Connection, touchpoint_id: int) -> list[tuple[int, int]]:
    """Folded hours plus the log not folded yet."""
    rows = await all_rows(
        conn,
        "SELECT hour, sum(n) FROM (SELECT hour, count AS n FROM impressions"
        " WHERE touchpoint_id = %s UNION ALL SELECT hour, count(*) FROM impression_log"
        " WHERE touchpoint_id = %s GROUP BY hour) AS shown GROUP BY hour HAVING sum(n) > 0"
        " ORDER BY hour",
        (touchpoint_id, touchpoint_id),
    )
    return [(int(hour), int(count)) for hour, count in rows]
