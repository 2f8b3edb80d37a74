"""Folding on PostgreSQL: one process at a time, up to the oldest transaction still running.

A fold runs in one transaction that holds a transaction-scoped advisory
lock (another process already folding means this one skips). It reads the
watermark, takes as its top `pg_snapshot_xmin`: every transaction with a
smaller id has finished, so everything it wrote is visible now and nothing
more will ever appear below it. Ratings written in [watermark, top) count
+1, the versions they undid -1 if a fold had counted them (their own xid is
below the watermark), and logged impressions go to their hour. `Deltas`
aggregates, one upsert per key follows, the watermark moves, and the undone
rows and impression log below it are dropped, all in the same commit.
"""

from __future__ import annotations

from typing import Any

from scorelet.rollups import Deltas
from scorelet.store.interface import RollupCheck
from scorelet.store.postgres.connection import Connection
from scorelet.store.postgres.reads import COUNTED_COLUMNS, Unfolded, all_rows, counted
from scorelet.store.postgres.schema import FOLD_LOCK

FOLD_LIMIT = 50_000
UPSERTS = {
    "daily": "INSERT INTO rollups (touchpoint_id, day, score, count) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (touchpoint_id, day, score) DO UPDATE SET count = rollups.count + excluded.count",
    "hourly": "INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (touchpoint_id, hour, score)"
    " DO UPDATE SET count = hourly_rollups.count + excluded.count",
    "context": "INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (touchpoint_id, key, value, day, score)"
    " DO UPDATE SET count = context_rollups.count + excluded.count",
    "context_totals": "INSERT INTO context_totals (touchpoint_id, key, value, score, count)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (touchpoint_id, key, value, score)"
    " DO UPDATE SET count = context_totals.count + excluded.count",
    "totals": "INSERT INTO score_totals (touchpoint_id, score, count) VALUES (%s, %s, %s)"
    " ON CONFLICT (touchpoint_id, score) DO UPDATE SET count = score_totals.count + excluded.count",
    "answered": "INSERT INTO impressions (touchpoint_id, hour, answered) VALUES (%s, %s, %s)"
    " ON CONFLICT (touchpoint_id, hour) DO UPDATE"
    " SET answered = impressions.answered + excluded.answered",
}
STORED = {
    "daily": "SELECT touchpoint_id, day, score, count FROM rollups",
    "hourly": "SELECT touchpoint_id, hour, score, count FROM hourly_rollups",
    "context": "SELECT touchpoint_id, key, value, day, score, count FROM context_rollups",
    "context_totals": "SELECT touchpoint_id, key, value, score, count FROM context_totals",
    "totals": "SELECT touchpoint_id, score, count FROM score_totals",
    "answered": "SELECT touchpoint_id, hour, answered FROM impressions",
}
PARTS = tuple(UPSERTS)


async def fold(conn: Connection, limit: int = FOLD_LIMIT) -> int | None:
    """One fold in the caller's transaction; the changes folded, or None if another
    process holds the fold.

    Every statement reads one snapshot (repeatable read): under read committed, a rating
    replaced between the statement that takes `top` and the one that reads the ratings
    would leave the range with its old version never counted, though its undone row says
    it was, and the rollups would be one short for good."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    locked = await all_rows(conn, "SELECT pg_try_advisory_xact_lock(%s)", (FOLD_LOCK,))
    if not locked[0][0]:
        return None
    start = (await all_rows(conn, "SELECT watermark FROM fold_state FOR UPDATE"))[0][0]
    top = (await all_rows(conn, "SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"))[
        0
    ][0]
    beyond = await all_rows(
        conn,
        "SELECT xid FROM responses WHERE xid >= %s AND xid < %s ORDER BY xid OFFSET %s LIMIT 1",
        (start, top, limit),
    )
    if beyond:  # a backlog: this fold stops at a transaction boundary, the next goes on
        top = max(beyond[0][0], start + 1)
    if top <= start:
        return 0
    deltas = Deltas()
    changes = 0
    for row in await all_rows(
        conn, f"SELECT {COUNTED_COLUMNS} FROM responses WHERE xid >= %s AND xid < %s", (start, top)
    ):
        deltas.add(counted(row))
        changes += 1
    for row in await all_rows(
        conn,
        f"SELECT {COUNTED_COLUMNS} FROM undone WHERE xid >= %s AND xid < %s AND old_xid < %s",
        (start, top, start),
    ):
        deltas.add(counted(row), -1)
        changes += 1
    shown = await all_rows(
        conn,
        "SELECT touchpoint_id, hour, count(*) FROM impression_log"
        " WHERE xid >= %s AND xid < %s GROUP BY 1, 2",
        (start, top),
    )
    changes += sum(int(row[2]) for row in shown)
    deltas = deltas.nonzero()
    async with conn.cursor() as cursor:
        for name, part in zip(PARTS, deltas.parts(), strict=True):
            if part:
                await cursor.executemany(UPSERTS[name], [(*key, n) for key, n in part.items()])
        if shown:
            await cursor.executemany(
                "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (%s, %s, %s)"
                " ON CONFLICT (touchpoint_id, hour) DO UPDATE"
                " SET count = impressions.count + excluded.count",
                shown,
            )
        totals: dict[int, list[int]] = {}
        for touchpoint_id, _, count in shown:
            totals.setdefault(touchpoint_id, [0, 0])[0] += count
        for (touchpoint_id, _), count in deltas.answered.items():
            totals.setdefault(touchpoint_id, [0, 0])[1] += count
        if totals:
            await cursor.executemany(
                "INSERT INTO display_totals (touchpoint_id, impressions, answered)"
                " SELECT %s, %s, %s WHERE EXISTS (SELECT 1 FROM touchpoints WHERE id = %s)"
                " ON CONFLICT (touchpoint_id) DO UPDATE"
                " SET impressions = display_totals.impressions + excluded.impressions,"
                " answered = display_totals.answered + excluded.answered",
                [(tp, shows, answers, tp) for tp, (shows, answers) in totals.items()],
            )
    await conn.execute("UPDATE fold_state SET watermark = %s", (top,))
    await conn.execute("DELETE FROM undone WHERE xid < %s", (top,))
    await conn.execute("DELETE FROM impression_log WHERE xid < %s", (top,))
    await conn.execute("DELETE FROM batch_marks WHERE at < extract(epoch FROM now()) - 3600")
    return changes


async def recount(conn: Connection, touchpoint_id: int | None) -> RollupCheck:
    where, args = (
        ("", ()) if touchpoint_id is None else (" WHERE touchpoint_id = %s", (touchpoint_id,))
    )
    stored = Deltas()
    for name, part in zip(PARTS, stored.parts(), strict=True):
        for row in await all_rows(conn, STORED[name] + where, args):
            part[tuple(row[:-1])] += int(row[-1])
    for change, sign in (await Unfolded.read(conn, touchpoint_id)).changes:
        stored.add(change, sign)
    fresh = Deltas().add_all(
        counted(row)
        for row in await all_rows(conn, f"SELECT {COUNTED_COLUMNS} FROM responses{where}", args)
    )
    return RollupCheck(_named(stored.nonzero()), _named(fresh.nonzero()))


def _named(deltas: Deltas) -> dict[str, dict[Any, int]]:
    return {name: dict(part) for name, part in zip(PARTS, deltas.parts(), strict=True)}
