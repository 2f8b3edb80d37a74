"""Rules, destinations and digests: their writes and reads, and the writer's routing table.

Every write here moves `routing_state.version` in its own transaction; the
writer's `RoutingCache` compares that version once per batch and reloads
the table when it moved, whichever process moved it.
"""

from __future__ import annotations

import json
import sqlite3

from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule, rule_from_json
from scorelet.routing.table import Table
from scorelet.store.errors import AlreadyExists, NotFound
from scorelet.store.records import Digest
from scorelet.store.routing import (
    DESTINATION_COLUMNS,
    DIGEST_COLUMNS,
    check_digest_target,
    check_notified,
    check_unused,
    destination_from_row,
    digest_from_row,
    table_from_rows,
)
from scorelet.store.sqlite.threads import Tx


def bump(conn: sqlite3.Connection) -> None:
    """Rules, destinations or touchpoints changed: every writer reloads its table."""
    conn.execute("UPDATE routing_state SET version = version + 1")


class RoutingCache:
    """The writer's routing table, reloaded when the stored version moved (writer only)."""

    def __init__(self) -> None:
        self.table: Table | None = None

    def current(self, conn: sqlite3.Connection, tx: Tx) -> Table:
        version = tx.memo.get("routing")
        if version is None:
            version = conn.execute("SELECT version FROM routing_state").fetchone()[0]
            tx.memo["routing"] = version
        if self.table is None or self.table.version != version:
            self.table = load_table(conn, version)
        return self.table


def load_table(conn: sqlite3.Connection, version: int) -> Table:
    return table_from_rows(
        version,
        rules(conn),
        conn.execute("SELECT id, name FROM destinations"),
        conn.execute("SELECT id, slug, metric, satisfied_from FROM touchpoints"),
    )


# -- destinations ------------------------------------------------------------------------


def destinations(conn: sqlite3.Connection) -> list[Destination]:
    return [
        destination_from_row(row)
        for row in conn.execute(f"SELECT {DESTINATION_COLUMNS} FROM destinations ORDER BY name")
    ]


def destination(conn: sqlite3.Connection, name: str) -> Destination:
    row = conn.execute(
        f"SELECT {DESTINATION_COLUMNS} FROM destinations WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFound("destination", name)
    return destination_from_row(row)


def create_destination(
    conn: sqlite3.Connection, tx: Tx, new: NewDestination, now: float
) -> Destination:
    try:
        conn.execute(
            "INSERT INTO destinations (name, kind, url, secret, team, priority, labels,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.name,
                new.kind,
                new.url,
                new.secret,
                new.team,
                new.priority,
                json.dumps(list(new.labels), ensure_ascii=False),
                now,
            ),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists("destination", new.name) from None
    bump(conn)
    return destination(conn, new.name)


def remove_destination(conn: sqlite3.Connection, tx: Tx, name: str) -> Destination:
    """Remove a destination no rule or digest names, with its deliveries."""
    found = destination(conn, name)
    digests = conn.execute(
        "SELECT name FROM digests WHERE destination_id = ? ORDER BY name", (found.id,)
    )
    check_unused(name, rules(conn), [digest for (digest,) in digests])
    with tx.atomic():
        conn.execute("DELETE FROM deliveries WHERE destination_id = ?", (found.id,))
        conn.execute("DELETE FROM destinations WHERE id = ?", (found.id,))
        bump(conn)
    return found


def enable_destination(conn: sqlite3.Connection, tx: Tx, name: str) -> Destination:
    found = destination(conn, name)
    conn.execute(
        "UPDATE destinations SET disabled_at = NULL, disabled_reason = NULL WHERE id = ?",
        (found.id,),
    )
    return destination(conn, name)


# -- rules -----------------------------------------------------------------------------------


def rules(conn: sqlite3.Connection) -> list[Rule]:
    return [
        rule_from_json(name, definition, created_at)
        for name, definition, created_at in conn.execute(
            "SELECT name, definition, created_at FROM rules ORDER BY name"
        )
    ]


def rule(conn: sqlite3.Connection, name: str) -> Rule:
    row = conn.execute(
        "SELECT name, definition, created_at FROM rules WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFound("rule", name)
    return rule_from_json(*row)


def create_rule(conn: sqlite3.Connection, tx: Tx, new: Rule) -> Rule:
    """Store a rule; every destination it notifies must exist (checked in this transaction)."""
    check_notified(new, [name for (name,) in conn.execute("SELECT name FROM destinations")])
    try:
        conn.execute(
            "INSERT INTO rules (name, definition, created_at) VALUES (?, ?, ?)",
            (new.name, new.to_json(), new.created_at),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists("rule", new.name) from None
    bump(conn)
    return rule(conn, new.name)


def remove_rule(conn: sqlite3.Connection, tx: Tx, name: str) -> Rule:
    found = rule(conn, name)
    conn.execute("DELETE FROM rules WHERE name = ?", (name,))
    bump(conn)
    return found


# -- digests --------------------------------------------------------------------------------

_DIGESTS = f"SELECT {DIGEST_COLUMNS} FROM digests g JOIN destinations d ON d.id = g.destination_id"


def digests(conn: sqlite3.Connection) -> list[Digest]:
    return [digest_from_row(row) for row in conn.execute(_DIGESTS + " ORDER BY g.name")]


def digest(conn: sqlite3.Connection, name: str) -> Digest:
    row = conn.execute(_DIGESTS + " WHERE g.name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound("digest", name)
    return digest_from_row(row)


def create_digest(conn: sqlite3.Connection, tx: Tx, new: Digest, now: float) -> Digest:
    target = conn.execute(
        "SELECT id, kind FROM destinations WHERE name = ?", (new.destination,)
    ).fetchone()
    check_digest_target(new.destination, None if target is None else target[1])
    try:
        conn.execute(
            "INSERT INTO digests (name, destination_id, every, touchpoints, tz, at, last_period,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.name,
                target[0],
                new.every,
                json.dumps(list(new.touchpoints)),
                new.tz,
                new.at,
                new.last_period,
                now,
            ),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists("digest", new.name) from None
    return digest(conn, new.name)


def remove_digest(conn: sqlite3.Connection, tx: Tx, name: str) -> Digest:
    found = digest(conn, name)
    conn.execute("DELETE FROM digests WHERE id = ?", (found.id,))
    return found
