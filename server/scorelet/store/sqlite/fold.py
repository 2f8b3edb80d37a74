"""Folding: the changes committed after the watermark, added into the rollups in one batch.

A fold reads, on the reader's connection, every change with a `seq` in
(watermark, top]: ratings as they are now count +1, and versions they
replaced or deleted count -1 if the rollups hold them (the undone version's
own `seq` is at or below the watermark; otherwise it was never folded).
`rollups.Deltas` aggregates them, so the writer then makes one upsert per
distinct key, moves the watermark and drops the undone rows it no longer
needs, all in one transaction: a crash before it commits leaves the
watermark where it was, and the next fold starts there.

Reading outside the writer is safe: a change committed between the read and
the write takes a `seq` above `top`, and an undone row it writes names the
version's old `seq`, which the next fold compares with the new watermark.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from scorelet.rollups import Deltas
from scorelet.store.interface import RollupCheck
from scorelet.store.sqlite.reads import Unfolded, watermark
from scorelet.store.sqlite.rows import COUNTED_COLUMNS, counted
from scorelet.store.sqlite.threads import Tx

# At most this many changes per fold, so a backlog never holds the writer for long.
FOLD_LIMIT = 50_000

UPSERTS = {
    "daily": "INSERT INTO rollups (touchpoint_id, day, score, count) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "hourly": "INSERT INTO hourly_rollups (touchpoint_id, hour, score, count) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "context": "INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "context_totals": "INSERT INTO context_totals (touchpoint_id, key, value, score, count)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "totals": "INSERT INTO score_totals (touchpoint_id, score, count) VALUES (?, ?, ?)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    # Impressions are counted as they come; only the ratings they led to are folded.
    "answered": "INSERT INTO impressions (touchpoint_id, hour, count, answered) VALUES (?, ?, 0, ?)"
    " ON CONFLICT DO UPDATE SET answered = answered + excluded.answered",
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


@dataclass(frozen=True, slots=True)
class Pending:
    """A fold's work, read and aggregated: from `start` (the watermark then) to `top`."""

    start: int
    top: int
    changes: int
    deltas: Deltas


def collect(conn: sqlite3.Connection, limit: int = FOLD_LIMIT) -> Pending:
    """Read and aggregate what lies after the watermark (reader's connection, one snapshot)."""
    start = watermark(conn)
    top = conn.execute(
        "SELECT max(?, coalesce((SELECT max(seq) FROM responses), 0),"
        " coalesce((SELECT max(seq) FROM undone), 0))",
        (start,),
    ).fetchone()[0]
    beyond = conn.execute(
        "SELECT seq FROM responses WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?", (start, limit)
    ).fetchone()
    if beyond is not None:  # a backlog: fold the first `limit` ratings now, the rest next time
        top = beyond[0] - 1
    deltas = Deltas()
    changes = 0
    for row in conn.execute(
        f"SELECT {COUNTED_COLUMNS} FROM responses WHERE seq > ? AND seq <= ?", (start, top)
    ):
        deltas.add(counted(row))
        changes += 1
    for row in conn.execute(
        f"SELECT {COUNTED_COLUMNS} FROM undone WHERE seq > ? AND seq <= ? AND old_seq <= ?",
        (start, top, start),
    ):
        deltas.add(counted(row), -1)
        changes += 1
    return Pending(start, top, changes, deltas.nonzero())


def apply(conn: sqlite3.Connection, tx: Tx, pending: Pending) -> bool:
    """Add the deltas and move the watermark, if nobody folded meanwhile (writer)."""
    if watermark(conn) != pending.start:
        return False
    with tx.atomic():
        for name, part in zip(PARTS, pending.deltas.parts(), strict=True):
            conn.executemany(UPSERTS[name], [(*key, count) for key, count in part.items()])
        conn.execute("UPDATE fold_state SET watermark = ?", (pending.top,))
        conn.execute("DELETE FROM undone WHERE seq <= ?", (pending.top,))
    return True


def recount(conn: sqlite3.Connection, touchpoint_id: int | None) -> RollupCheck:
    """The rollups as stored plus what is unfolded, beside a fold of every raw row."""
    where, args = (
        ("", ()) if touchpoint_id is None else (" WHERE touchpoint_id = ?", (touchpoint_id,))
    )
    stored = Deltas()
    for name, part in zip(PARTS, stored.parts(), strict=True):
        for row in conn.execute(STORED[name] + where, args):
            part[tuple(row[:-1])] += row[-1]
    for change, sign in Unfolded(conn, touchpoint_id).changes:
        stored.add(change, sign)
    fresh = Deltas().add_all(
        counted(row)
        for row in conn.execute(f"SELECT {COUNTED_COLUMNS} FROM responses{where}", args)
    )
    return RollupCheck(_named(stored.nonzero()), _named(fresh.nonzero()))


def _named(deltas: Deltas) -> dict[str, dict[Any, int]]:
    return {name: dict(part) for name, part in zip(PARTS, deltas.parts(), strict=True)}
