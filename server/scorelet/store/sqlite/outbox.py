"""The outbox: deliveries claimed by a worker under a lease, finished, listed and retried.

A claim is a write: it picks due deliveries (pending or failed, due, not
leased, of an enabled destination, and not of a destination the caller is
busy with) and leases them for `lease` seconds in one transaction, so two
processes never hold the same delivery at once; a worker that dies lets
its leases lapse and another (or the next start) picks them up. On
PostgreSQL the same is `FOR UPDATE SKIP LOCKED` with the same lease column.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from scorelet.store.records import Claimed, Delivery, Outcome, Response
from scorelet.store.routing import (
    DELIVERY_COLUMNS,
    DESTINATION_COLUMNS,
    check_retried,
    delivery_from_row,
    destination_from_row,
)
from scorelet.store.sqlite.routing import digest
from scorelet.store.sqlite.rows import RESPONSE_COLUMNS, response_from_row
from scorelet.store.sqlite.tags import add_issue, annotate
from scorelet.store.sqlite.threads import Tx

_FROM = " FROM deliveries x JOIN destinations d ON d.id = x.destination_id"
_DUE = (
    f"SELECT {DELIVERY_COLUMNS}, x.destination_id, x.payload{_FROM}"
    " WHERE x.destination_id = ? AND x.state IN ('pending', 'failed') AND x.due_at <= ?"
    " AND (x.lease_until IS NULL OR x.lease_until <= ?) ORDER BY x.due_at LIMIT ?"
)


def claim(
    conn: sqlite3.Connection,
    tx: Tx,
    now: float,
    limit: int,
    lease: float,
    busy: Sequence[int],
) -> list[Claimed]:
    """The `limit` due deliveries due first, read one destination at a time from its own
    part of the due index: a disabled or busy destination's backlog is never walked."""
    rows = sorted(
        (
            row
            for destination_id in _open(conn, busy)
            for row in conn.execute(_DUE, (destination_id, now, now, limit))
        ),
        key=lambda row: row[8],  # due_at
    )[:limit]
    if not rows:
        return []
    conn.executemany(
        "UPDATE deliveries SET lease_until = ? WHERE id = ?",
        [(now + lease, row[0]) for row in rows],
    )
    destinations = {
        row[0]: destination_from_row(row)
        for row in conn.execute(
            f"SELECT {DESTINATION_COLUMNS} FROM destinations WHERE id IN"
            f" ({', '.join('?' for _ in rows)})",
            [row[14] for row in rows],
        )
    }
    wanted = [row[5] for row in rows if row[5] is not None]
    responses: dict[str, Response] = {}
    if wanted:
        found = [
            response_from_row(r)
            for r in conn.execute(
                f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id IN"
                f" ({', '.join('?' for _ in wanted)})",
                wanted,
            )
        ]
        responses = {r.id: r for r in annotate(conn, found)}
    return [
        Claimed(
            delivery_from_row(row[:14]),
            destinations[row[14]],
            responses.get(row[5]) if row[5] else None,
            row[15],
        )
        for row in rows
    ]


def _open(conn: sqlite3.Connection, busy: Sequence[int]) -> list[int]:
    skip = set(busy)
    return [
        id_
        for (id_,) in conn.execute("SELECT id FROM destinations WHERE disabled_at IS NULL")
        if id_ not in skip
    ]


def renew(conn: sqlite3.Connection, tx: Tx, ids: Sequence[str], until: float) -> None:
    conn.executemany(
        "UPDATE deliveries SET lease_until = ? WHERE id = ? AND state IN ('pending', 'failed')",
        [(until, id_) for id_ in ids],
    )


def finish(
    conn: sqlite3.Connection, tx: Tx, delivery_id: str, outcome: Outcome, now: float
) -> Response | None:
    """Record an attempt; returns the rating when an issue was linked to it."""
    row = conn.execute(
        "SELECT destination_id, response_id, state FROM deliveries WHERE id = ?", (delivery_id,)
    ).fetchone()
    if row is None or row[2] not in ("pending", "failed"):
        return None  # deleted with its rating, or finished by someone else
    destination_id, response_id, _ = row
    linked = None
    with tx.atomic():
        conn.execute(
            "UPDATE deliveries SET state = ?, attempts = attempts + 1, due_at = ?,"
            " lease_until = NULL, last_status = ?, last_error = ?, updated_at = ?, held = 0"
            " WHERE id = ?",
            (
                outcome.state,
                outcome.retry_at or now,
                outcome.status,
                outcome.error,
                now,
                delivery_id,
            ),
        )
        if outcome.disable:
            conn.execute(
                "UPDATE destinations SET disabled_at = ?, disabled_reason = ? WHERE id = ?",
                (now, outcome.disable, destination_id),
            )
        if outcome.issue is not None and response_id is not None:
            rating = conn.execute(
                f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = ?", (response_id,)
            ).fetchone()
            if rating is not None:
                linked = response_from_row(rating)
                add_issue(conn, delivery_id, linked, outcome.issue, now)
    return linked


def deliveries(
    conn: sqlite3.Connection, state: str | None, destination: str | None, limit: int
) -> list[Delivery]:
    where, args = "1 = 1", []
    if state is not None:
        where += " AND x.state = ?"
        args.append(state)
    if destination is not None:
        where += " AND d.name = ?"
        args.append(destination)
    return [
        delivery_from_row(row)
        for row in conn.execute(
            f"SELECT {DELIVERY_COLUMNS}{_FROM} WHERE {where} ORDER BY x.id DESC LIMIT ?",
            [*args, limit],
        )
    ]


def retry(
    conn: sqlite3.Connection, tx: Tx, ids: Sequence[str] | None, now: float
) -> list[Delivery]:
    """Send dead (or failed) deliveries again now: the ids given, or every dead one."""
    if ids is None:
        targets = [id_ for (id_,) in conn.execute("SELECT id FROM deliveries WHERE state = 'dead'")]
    else:
        targets = []
        for id_ in ids:
            found = conn.execute("SELECT state FROM deliveries WHERE id = ?", (id_,)).fetchone()
            check_retried(id_, None if found is None else found[0])
            targets.append(id_)
    conn.executemany(
        "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = ?, held = 0,"
        " lease_until = NULL, updated_at = ? WHERE id = ?",
        [(now, now, id_) for id_ in targets],
    )
    return [
        delivery_from_row(row)
        for id_ in targets
        for row in conn.execute(f"SELECT {DELIVERY_COLUMNS}{_FROM} WHERE x.id = ?", (id_,))
    ]


def queue_digest(
    conn: sqlite3.Connection,
    tx: Tx,
    name: str,
    period: str,
    payload: dict[str, Any],
    delivery_id: str,
    now: float,
) -> bool:
    """Queue a digest's delivery for `period` unless that period was queued already: the
    period moves in the same transaction, so each is sent once across restarts."""
    found = digest(conn, name)
    with tx.atomic():
        cursor = conn.execute(
            "UPDATE digests SET last_period = ? WHERE id = ?"
            " AND (last_period IS NULL OR last_period < ?)",
            (period, found.id, period),
        )
        if cursor.rowcount == 0:
            return False
        conn.execute(
            "INSERT INTO deliveries (id, destination_id, kind, payload, state, due_at,"
            " created_at, updated_at) SELECT ?, destination_id, 'digest', ?, 'pending', ?, ?, ?"
            " FROM digests WHERE id = ?",
            (delivery_id, json.dumps(payload, ensure_ascii=False), now, now, now, found.id),
        )
    return True
