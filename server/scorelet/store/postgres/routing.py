"""Rules, destinations and digests on PostgreSQL, and the writer's routing table.

As on SQLite (store/sqlite/routing.py), every change to rules, destinations
or touchpoints moves `routing_state.version` in its own transaction; each
process's writer reads that version once per batch and reloads its table
when it moved, whichever process moved it. Two processes bumping at once
take turns on the one row.
"""

from __future__ import annotations

import json

import psycopg

from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule, rule_from_json
from scorelet.routing.table import Table
from scorelet.store.errors import AlreadyExists, NotFound
from scorelet.store.postgres.connection import Connection, Writer
from scorelet.store.postgres.reads import all_rows
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


async def bump(conn: Connection) -> None:
    """Rules, destinations or touchpoints changed: every writer reloads its table."""
    await conn.execute("UPDATE routing_state SET version = version + 1")


async def lock(conn: Connection) -> None:
    """Take the routing row first: a rule or digest naming a destination and the
    destination's removal, in two processes, then take turns (and never deadlock)."""
    await conn.execute("SELECT version FROM routing_state FOR UPDATE")


class RoutingCache:
    """The writer's routing table, reloaded when the stored version moved (writer only)."""

    def __init__(self, writer: Writer) -> None:
        self.table: Table | None = None
        self._writer = writer
        self._checked = (-1, 0)  # (the writer's transaction, the version read in it)

    async def current(self, conn: Connection) -> Table:
        transaction, version = self._checked
        if transaction != self._writer.transactions:
            rows = await all_rows(conn, "SELECT version FROM routing_state")
            version = int(rows[0][0])
            self._checked = (self._writer.transactions, version)
        if self.table is None or self.table.version != version:
            self.table = await load_table(conn, version)
        return self.table


async def load_table(conn: Connection, version: int) -> Table:
    return table_from_rows(
        version,
        await rules(conn),
        await all_rows(conn, "SELECT id, name FROM destinations"),
        await all_rows(conn, "SELECT id, slug, metric, satisfied_from FROM touchpoints"),
    )


# -- destinations ----------------------------------------------------------------------------


async def destinations(conn: Connection) -> list[Destination]:
    rows = await all_rows(conn, f"SELECT {DESTINATION_COLUMNS} FROM destinations ORDER BY name")
    return [destination_from_row(row) for row in rows]


async def destination(conn: Connection, name: str) -> Destination:
    rows = await all_rows(
        conn, f"SELECT {DESTINATION_COLUMNS} FROM destinations WHERE name = %s", (name,)
    )
    if not rows:
        raise NotFound("destination", name)
    return destination_from_row(rows[0])


async def create_destination(conn: Connection, new: NewDestination, now: float) -> Destination:
    try:
        async with conn.transaction():  # a savepoint: a taken name must not sink the batch
            await conn.execute(
                "INSERT INTO destinations (name, kind, url, secret, team, priority, labels,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
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
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists("destination", new.name) from None
    await bump(conn)
    return await destination(conn, new.name)


async def remove_destination(conn: Connection, name: str) -> Destination:
    """Remove a destination no rule or digest names, with its deliveries (by cascade).

    The rules are read under the routing row's lock, so no rule naming it can
    be created meanwhile by another process."""
    await lock(conn)
    found = await destination(conn, name)
    digests = await all_rows(
        conn, "SELECT name FROM digests WHERE destination_id = %s ORDER BY name", (found.id,)
    )
    check_unused(name, await rules(conn), [digest for (digest,) in digests])
    await conn.execute("DELETE FROM destinations WHERE id = %s", (found.id,))
    await bump(conn)
    return found


async def enable_destination(conn: Connection, name: str) -> Destination:
    found = await destination(conn, name)
    await conn.execute(
        "UPDATE destinations SET disabled_at = NULL, disabled_reason = NULL WHERE id = %s",
        (found.id,),
    )
    return await destination(conn, name)


# -- rules -----------------------------------------------------------------------------------


async def rules(conn: Connection) -> list[Rule]:
    rows = await all_rows(conn, "SELECT name, definition, created_at FROM rules ORDER BY name")
    return [rule_from_json(name, definition, created_at) for name, definition, created_at in rows]


async def rule(conn: Connection, name: str) -> Rule:
    rows = await all_rows(
        conn, "SELECT name, definition, created_at FROM rules WHERE name = %s", (name,)
    )
    if not rows:
        raise NotFound("rule", name)
    return rule_from_json(*rows[0])


async def create_rule(conn: Connection, new: Rule) -> Rule:
    """Store a rule; every destination it notifies must exist (checked in this transaction,
    under the routing row's lock against a removal)."""
    await lock(conn)
    known = await all_rows(conn, "SELECT name FROM destinations")
    check_notified(new, [name for (name,) in known])
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO rules (name, definition, created_at) VALUES (%s, %s, %s)",
                (new.name, new.to_json(), new.created_at),
            )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists("rule", new.name) from None
    await bump(conn)
    return await rule(conn, new.name)


async def remove_rule(conn: Connection, name: str) -> Rule:
    found = await rule(conn, name)
    await conn.execute("DELETE FROM rules WHERE name = %s", (name,))
    await bump(conn)
    return found


# -- digests ---------------------------------------------------------------------------------

_DIGESTS = f"SELECT {DIGEST_COLUMNS} FROM digests g JOIN destinations d ON d.id = g.destination_id"


async def digests(conn: Connection) -> list[Digest]:
    return [digest_from_row(row) for row in await all_rows(conn, _DIGESTS + " ORDER BY g.name")]


async def digest(conn: Connection, name: str) -> Digest:
    rows = await all_rows(conn, _DIGESTS + " WHERE g.name = %s", (name,))
    if not rows:
        raise NotFound("digest", name)
    return digest_from_row(rows[0])


async def create_digest(conn: Connection, new: Digest, now: float) -> Digest:
    await lock(conn)
    target = await all_rows(
        conn, "SELECT id, kind FROM destinations WHERE name = %s", (new.destination,)
    )
    check_digest_target(new.destination, target[0][1] if target else None)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO digests (name, destination_id, every, touchpoints, tz, at,"
                " last_period, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    new.name,
                    target[0][0],
                    new.every,
                    json.dumps(list(new.touchpoints)),
                    new.tz,
                    new.at,
                    new.last_period,
                    now,
                ),
            )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists("digest", new.name) from None
    return await digest(conn, new.name)


async def remove_digest(conn: Connection, name: str) -> Digest:
    found = await digest(conn, name)
    await conn.execute("DELETE FROM digests WHERE id = %s", (found.id,))
    return found
