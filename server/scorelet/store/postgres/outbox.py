"""The outbox on PostgreSQL: deliveries claimed under a lease, finished, listed and retried.

Workers in several processes claim at once: a claim selects due deliveries
`FOR UPDATE SKIP LOCKED` (rows another claim holds are passed over, not
waited for) and leases them in the same transaction, so no delivery is ever
held by two callers; a worker that dies lets its leases lapse, as on SQLite
(store/sqlite/outbox.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from scorelet.store.postgres.connection import Connection
from scorelet.store.postgres.reads import RESPONSE_COLUMNS, all_rows, response_from_row
from scorelet.store.postgres.routing import digest
from scorelet.store.postgres.tags import add_issue, annotate
from scorelet.store.records import Claimed, Delivery, Outcome, Response
from scorelet.store.routing import (
    DELIVERY_COLUMNS,
    DESTINATION_COLUMNS,
    check_retried,
    delivery_from_row,
    destination_from_row,
)

_FROM = " FROM deliveries x JOIN destinations d ON d.id = x.destination_id"


_DUE = (
    f"SELECT {DELIVERY_COLUMNS}, x.destination_id, x.payload{_FROM}"
    " WHERE x.destination_id = %s AND x.state IN ('pending', 'failed') AND x.due_at <= %s"
    " AND (x.lease_until IS NULL OR x.lease_until <= %s)"
    " ORDER BY x.due_at LIMIT %s FOR UPDATE OF x SKIP LOCKED"
)


async def claim(
    conn: Connection, now: float, limit: int, lease: float, busy: Sequence[int]
) -> list[Claimed]:
    """The `limit` deliveries due first, one destination at a time from its own part of the
    due index, as on SQLite (rows read past the limit stay locked only until the commit)."""
    open_ = await all_rows(
        conn,
        "SELECT id FROM destinations WHERE disabled_at IS NULL AND id <> ALL(%s)",
        (list(busy),),
    )
    due = [row for (id_,) in open_ for row in await all_rows(conn, _DUE, (id_, now, now, limit))]
    rows = sorted(due, key=lambda row: row[8])[:limit]  # by due_at
    if not rows:
        return []
    await conn.execute(
        "UPDATE deliveries SET lease_until = %s WHERE id = ANY(%s)",
        (now + lease, [row[0] for row in rows]),
    )
    destinations = {
        row[0]: destination_from_row(row)
        for row in await all_rows(
            conn,
            f"SELECT {DESTINATION_COLUMNS} FROM destinations WHERE id = ANY(%s)",
            (list({row[14] for row in rows}),),
        )
    }
    wanted = [row[5] for row in rows if row[5] is not None]
    responses: dict[str, Response] = {}
    if wanted:
        found = [
            response_from_row(r)
            for r in await all_rows(
                conn, f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = ANY(%s)", (wanted,)
            )
        ]
        responses = {r.id: r for r in await annotate(conn, found)}
    return [
        Claimed(
            delivery_from_row(row[:14]),
            destinations[row[14]],
            responses.get(row[5]) if row[5] else None,
            row[15],
        )
        for row in rows
    ]


async def renew(conn: Connection, ids: Sequence[str], until: float) -> None:
    await conn.execute(
        "UPDATE deliveries SET lease_until = %s WHERE id = ANY(%s)"
        " AND state IN ('pending', 'failed')",
        (until, list(ids)),
    )


async def finish(
    conn: Connection, delivery_id: str, outcome: Outcome, now: float
) -> Response | None:
    """Record an attempt; returns the rating when an issue was linked to it."""
    rows = await all_rows(
        conn,
        "SELECT destination_id, response_id, state FROM deliveries WHERE id = %s FOR UPDATE",
        (delivery_id,),
    )
    if not rows or rows[0][2] not in ("pending", "failed"):
        return None  # deleted with its rating, or finished by someone else
    destination_id, response_id, _ = rows[0]
    await conn.execute(
        "UPDATE deliveries SET state = %s, attempts = attempts + 1, due_at = %s,"
        " lease_until = NULL, last_status = %s, last_error = %s, updated_at = %s, held = false"
        " WHERE id = %s",
        (outcome.state, outcome.retry_at or now, outcome.status, outcome.error, now, delivery_id),
    )
    if outcome.disable:
        await conn.execute(
            "UPDATE destinations SET disabled_at = %s, disabled_reason = %s WHERE id = %s",
            (now, outcome.disable, destination_id),
        )
    if outcome.issue is None or response_id is None:
        return None
    rating = await all_rows(
        conn, f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = %s", (response_id,)
    )
    if not rating:
        return None
    linked = response_from_row(rating[0])
    await add_issue(conn, delivery_id, linked, outcome.issue, now)
    return linked


async def deliveries(
    conn: Connection, state: str | None, destination: str | None, limit: int
) -> list[Delivery]:
    where, args = "true", []
    if state is not None:
        where += " AND x.state = %s"
        args.append(state)
    if destination is not None:
        where += " AND d.name = %s"
        args.append(destination)
    rows = await all_rows(
        conn,
        f"SELECT {DELIVERY_COLUMNS}{_FROM} WHERE {where} ORDER BY x.id DESC LIMIT %s",
        [*args, limit],
    )
    return [delivery_from_row(row) for row in rows]


async def retry(conn: Connection, ids: Sequence[str] | None, now: float) -> list[Delivery]:
    """Send dead (or failed) deliveries again now: the ids given, or every dead one."""
    if ids is None:
        targets = [
            id_ for (id_,) in await all_rows(conn, "SELECT id FROM deliveries WHERE state = 'dead'")
        ]
    else:
        states = dict(
            await all_rows(
                conn,
                "SELECT id, state FROM deliveries WHERE id = ANY(%s) FOR UPDATE",
                (list(ids),),
            )
        )
        for id_ in ids:
            check_retried(id_, states.get(id_))
        targets = list(ids)
    await conn.execute(
        "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = %s, held = false,"
        " lease_until = NULL, updated_at = %s WHERE id = ANY(%s)",
        (now, now, targets),
    )
    rows = await all_rows(
        conn, f"SELECT {DELIVERY_COLUMNS}{_FROM} WHERE x.id = ANY(%s)", (targets,)
    )
    found = {row[0]: delivery_from_row(row) for row in rows}
    return [found[id_] for id_ in targets if id_ in found]


async def queue_digest(
    conn: Connection, name: str, period: str, payload: dict[str, Any], delivery_id: str, now: float
) -> bool:
    """Queue a digest's delivery for `period` unless that period was queued already: the
    period moves in the same transaction (the digest's row locked meanwhile), so each is
    sent once across restarts and processes."""
    found = await digest(conn, name)
    moved = await all_rows(
        conn,
        "UPDATE digests SET last_period = %s WHERE id = %s"
        " AND (last_period IS NULL OR last_period < %s) RETURNING id",
        (period, found.id, period),
    )
    if not moved:
        return False
    await conn.execute(
        "INSERT INTO deliveries (id, destination_id, kind, payload, state, due_at,"
        " created_at, updated_at) SELECT %s, destination_id, 'digest', %s, 'pending', %s, %s, %s"
        " FROM digests WHERE id = %s",
        (delivery_id, json.dumps(payload, ensure_ascii=False), now, now, now, found.id),
    )
    return True
