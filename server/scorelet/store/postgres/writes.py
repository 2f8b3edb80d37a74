"""Write operations on PostgreSQL: coroutines of the writer's connection, inside its batch.

The same rules as SQLite's (store/sqlite/writes.py). What differs is that
other processes write at the same time: a subject's rating and a browser's
rating are looked up and written under a transaction-scoped advisory lock on
(touchpoint, subject or client), so two processes can't both find "none yet"
and make two. A browser's earlier rating is found in the table (an index on
touchpoint, client and time), not in one process's memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scorelet.dedup import EDIT_WINDOW, MARGIN
from scorelet.store.columns import (
    KEY_COLUMNS,
    TOUCHPOINT_COLUMNS,
    USER_COLUMNS,
    touchpoint_from_row,
    touchpoint_row,
    touchpoint_values,
    user_values,
)
from scorelet.store.errors import AlreadyExists, NotFound, Refused
from scorelet.store.interface import Registry
from scorelet.store.postgres.connection import Connection
from scorelet.store.postgres.reads import (
    RESPONSE_COLUMNS,
    all_rows,
    impression_hours,
    response_from_row,
)
from scorelet.store.postgres.schema import FOLD_LOCK, XID
from scorelet.store.records import ApiKey, Identity, NewResponse, Response, time_ordered_id
from scorelet.store.seen import missing_displays
from scorelet.touchpoints import Touchpoint

INSERT = (
    "INSERT INTO responses (id, touchpoint_id, score, comment, subject, context, client,"
    " created_at, updated_at, shown, person) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
ROW = "xid, " + RESPONSE_COLUMNS
# The traits a person's latest identity token carried, and when they were first and last seen.
SEEN_PERSON = (
    "INSERT INTO people (id, traits, first_seen_at, last_seen_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET traits = excluded.traits,"
    " last_seen_at = excluded.last_seen_at"
)


async def _row(conn: Connection, where: str, *args: Any) -> tuple[int, Response] | None:
    rows = await all_rows(conn, f"SELECT {ROW} FROM responses WHERE {where} FOR UPDATE", args)
    return (rows[0][0], response_from_row(rows[0][1:])) if rows else None


async def _lock(conn: Connection, touchpoint_id: int, kind: str, name: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", (f"{kind}:{name}", touchpoint_id)
    )


def id_conflict() -> Refused:
    return Refused(
        "id_conflict", "this id belongs to another touchpoint's or subject's rating", "id"
    )


async def record(
    conn: Connection, new: NewResponse, now: float
) -> tuple[Response, Response | None]:
    """Store a rating and, once it is accepted, the traits of the person who gave it
    (a refused write changes nothing: the batch it is in goes on)."""
    stored = await _store(conn, new, now)
    if new.identity is not None:
        await seen_person(conn, new.identity, now)
    return stored


async def seen_person(conn: Connection, identity: Identity, now: float) -> None:
    await conn.execute(SEEN_PERSON, (identity.person, Jsonb(dict(identity.traits)), now, now))


async def _store(
    conn: Connection, new: NewResponse, now: float
) -> tuple[Response, Response | None]:
    response_id = new.id
    if new.subject is not None:
        await _lock(conn, new.touchpoint_id, "subject", new.subject)
        existing = await _row(
            conn, "touchpoint_id = %s AND subject = %s", new.touchpoint_id, new.subject
        )
        if existing is not None:
            if (
                new.id is not None
                and new.id != existing[1].id
                and await _row(conn, "id = %s", new.id)
            ):
                raise id_conflict()
            return await _replace(conn, existing, new, now), existing[1]
    elif new.client is not None:
        await _lock(conn, new.touchpoint_id, "client", new.client)
        window = EDIT_WINDOW - MARGIN  # as store/sqlite's ClientWindow
        earlier = await all_rows(
            conn,
            "SELECT id FROM responses WHERE touchpoint_id = %s AND client = %s"
            " AND created_at > %s ORDER BY created_at LIMIT 1",
            (new.touchpoint_id, new.client, now - window),
        )
        if earlier:
            response_id = earlier[0][0]
    if response_id is not None:
        existing = await _row(conn, "id = %s", response_id)
        if existing is not None:
            old = existing[1]
            if (old.touchpoint_id, old.subject) != (new.touchpoint_id, new.subject):
                raise id_conflict()
            _check_window(old, new.edit_window, now)
            return await _replace(conn, existing, new, now), old
    response_id = response_id or time_ordered_id(now)
    await conn.execute(
        INSERT,
        (
            response_id,
            new.touchpoint_id,
            new.score,
            new.comment,
            new.subject,
            Jsonb(dict(new.context)),
            new.client if new.subject is None else None,
            now,
            now,
            new.shown,
            new.identity.person if new.identity else None,
        ),
    )
    stored = Response(
        response_id,
        new.touchpoint_id,
        new.score,
        new.comment,
        new.subject,
        new.context,
        now,
        now,
        new.shown,
        person=new.identity.person if new.identity else None,
    )
    return stored, None


def _check_window(existing: Response, window: float | None, now: float) -> None:
    if window is not None and now > existing.created_at + window:
        raise Refused(
            "edit_window_closed",
            f"this rating can no longer be changed ({int(window // 3600)} h after it was given)",
            "id",
        )


async def _undo(conn: Connection, xid: int, old: Response) -> None:
    await conn.execute(
        "INSERT INTO undone (old_xid, touchpoint_id, score, context, created_at, shown)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (xid, old.touchpoint_id, old.score, Jsonb(dict(old.context)), old.created_at, old.shown),
    )


async def _replace(
    conn: Connection, old: tuple[int, Response], new: NewResponse, now: float
) -> Response:
    xid, previous = old
    comment = new.comment if new.comment is not None else previous.comment
    shown = previous.shown or new.shown
    person = new.identity.person if new.identity else previous.person
    await _undo(conn, xid, previous)
    await conn.execute(
        f"UPDATE responses SET xid = {XID}, score = %s, comment = %s, context = %s,"
        " updated_at = %s, shown = %s, person = %s WHERE id = %s",
        (new.score, comment, Jsonb(dict(new.context)), now, shown, person, previous.id),
    )
    return replace(
        previous,
        score=new.score,
        comment=comment,
        context=dict(new.context),
        updated_at=now,
        shown=shown,
        person=person,
    )


async def import_ratings(conn: Connection, ratings: Sequence[Response]) -> list[Response]:
    """Ratings as given, in one statement per batch; those already there (by id, or by
    subject) are left as they are."""
    cursor = await conn.execute(
        "INSERT INTO responses (id, touchpoint_id, score, comment, subject, context,"
        " created_at, updated_at, shown, person)"
        " SELECT * FROM unnest(%s::text[], %s::integer[], %s::integer[], %s::text[],"
        " %s::text[], %s::jsonb[], %s::float8[], %s::float8[], %s::boolean[], %s::text[])"
        " ON CONFLICT DO NOTHING RETURNING id",
        (
            [rating.id for rating in ratings],
            [rating.touchpoint_id for rating in ratings],
            [rating.score for rating in ratings],
            [rating.comment for rating in ratings],
            [rating.subject for rating in ratings],
            [Jsonb(dict(rating.context)) for rating in ratings],
            [float(rating.created_at) for rating in ratings],
            [float(rating.updated_at) for rating in ratings],
            [rating.shown for rating in ratings],
            [rating.person for rating in ratings],
        ),
    )
    stored = {row[0] for row in await cursor.fetchall()}
    return [rating for rating in ratings if rating.id in stored]


async def comment(
    conn: Connection,
    response_id: str,
    text: str | None,
    touchpoint_id: int,
    subject: str | None,
    edit_window: float | None,
    now: float,
) -> Response:
    existing = await _row(conn, "id = %s", response_id)
    if existing is None:
        raise NotFound("response", response_id)
    old = existing[1]
    if old.touchpoint_id != touchpoint_id or (subject is not None and old.subject != subject):
        raise Refused(
            "token_mismatch", "this token is not the one the rating was given with", "token"
        )
    if subject is None:
        _check_window(old, edit_window, now)
    await conn.execute(
        "UPDATE responses SET comment = %s, updated_at = %s WHERE id = %s", (text, now, response_id)
    )
    return replace(old, comment=text, updated_at=now)


async def delete(conn: Connection, response_id: str) -> Response:
    existing = await _row(conn, "id = %s", response_id)
    if existing is None:
        raise NotFound("response", response_id)
    await _undo(conn, existing[0], existing[1])
    await conn.execute("DELETE FROM responses WHERE id = %s", (response_id,))
    return existing[1]


async def record_impression(conn: Connection, touchpoint_id: int, hour: int) -> None:
    await conn.execute(
        "INSERT INTO impression_log (touchpoint_id, hour) VALUES (%s, %s)", (touchpoint_id, hour)
    )


# -- touchpoints and keys ------------------------------------------------------------------


async def touchpoint_by_slug(conn: Connection, slug: str) -> Touchpoint:
    rows = await all_rows(
        conn, f"SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints WHERE slug = %s", (slug,)
    )
    if not rows:
        raise NotFound("touchpoint", slug)
    return touchpoint_from_row(rows[0])


async def create_touchpoint(conn: Connection, fields: dict[str, Any], now: float) -> Touchpoint:
    columns = {**touchpoint_values(fields), "created_at": now, "updated_at": now}
    retired = await all_rows(
        conn, "SELECT token_version FROM retired_slugs WHERE slug = %s", (fields["slug"],)
    )
    if retired:  # the name was used before: its old tokens stay refused
        columns["token_version"] = retired[0][0] + 1
    names = ", ".join(columns)
    marks = ", ".join("%s" for _ in columns)
    try:
        async with conn.transaction():  # a savepoint: a taken slug must not sink the batch
            await conn.execute(
                f"INSERT INTO touchpoints ({names}) VALUES ({marks})", tuple(columns.values())
            )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists("touchpoint", fields["slug"]) from None
    return await touchpoint_by_slug(conn, fields["slug"])


async def update_touchpoint(
    conn: Connection, slug: str, fields: dict[str, Any], rotate: bool, now: float
) -> Touchpoint:
    columns = {**touchpoint_values(fields), "updated_at": now}
    assignments = ", ".join(f"{name} = %s" for name in columns)
    if rotate:
        assignments += ", token_version = token_version + 1"
    updated = await all_rows(
        conn,
        f"UPDATE touchpoints SET {assignments} WHERE slug = %s RETURNING id",
        (*columns.values(), slug),
    )
    if not updated:
        raise NotFound("touchpoint", slug)
    return await touchpoint_by_slug(conn, slug)


ROLLUP_TABLES = (
    "rollups",
    "hourly_rollups",
    "context_rollups",
    "context_totals",
    "score_totals",
    "impressions",
    "display_totals",
    "undone",
    "impression_log",
)


async def delete_touchpoint(conn: Connection, slug: str) -> Touchpoint:
    touchpoint = await touchpoint_by_slug(conn, slug)
    for table in ROLLUP_TABLES:
        await conn.execute(f"DELETE FROM {table} WHERE touchpoint_id = %s", (touchpoint.id,))
    await conn.execute(
        "INSERT INTO retired_slugs (slug, token_version) VALUES (%s, %s)"
        " ON CONFLICT (slug) DO UPDATE SET token_version = excluded.token_version",
        (slug, touchpoint.token_version),
    )
    await conn.execute("DELETE FROM touchpoints WHERE id = %s", (touchpoint.id,))
    return touchpoint


async def create_key(conn: Connection, key: ApiKey) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES (%s, %s, %s, %s, %s)",
        (key.id, key.name, key.scope, key.hash, key.created_at),
    )


async def revoke_key(conn: Connection, key_id: str, now: float) -> ApiKey:
    rows = await all_rows(
        conn,
        "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
        " RETURNING id, name, scope, hash, created_at, revoked_at",
        (now, key_id),
    )
    if not rows:
        raise NotFound("active API key", key_id)
    return ApiKey(*rows[0])


# -- copies from another database ---------------------------------------------------------


async def restore_registry(conn: Connection, registry: Registry) -> None:
    for touchpoint in registry.touchpoints:
        updated = await all_rows(
            conn,
            "UPDATE touchpoints SET token_version = GREATEST(token_version, %s) WHERE slug = %s"
            " RETURNING id",
            (touchpoint.token_version, touchpoint.slug),
        )
        if not updated:
            columns = touchpoint_row(touchpoint)
            names = ", ".join(columns)
            marks = ", ".join("%s" for _ in columns)
            await conn.execute(
                f"INSERT INTO touchpoints ({names}) VALUES ({marks})", tuple(columns.values())
            )
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO retired_slugs (slug, token_version) VALUES (%s, %s) ON CONFLICT (slug)"
            " DO UPDATE SET token_version"
            " = GREATEST(retired_slugs.token_version, excluded.token_version)",
            list(registry.retired.items()),
        )
        await cursor.executemany(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id)"
            " DO UPDATE SET revoked_at = coalesce(api_keys.revoked_at, excluded.revoked_at)",
            [(k.id, k.name, k.scope, k.hash, k.created_at, k.revoked_at) for k in registry.keys],
        )
        await cursor.executemany(
            f"INSERT INTO users ({USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [user_values(user) for user in registry.users],
        )
        await cursor.executemany(
            "INSERT INTO settings (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            list(registry.settings.items()),
        )
        await cursor.executemany(
            RESTORE_PERSON,
            [
                (p.id, Jsonb(dict(p.traits)), p.first_seen_at, p.last_seen_at)
                for p in registry.people
            ],
        )


# A copied person: the traits of whichever database saw them last.
RESTORE_PERSON = (
    "INSERT INTO people (id, traits, first_seen_at, last_seen_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE"
    " SET first_seen_at = LEAST(people.first_seen_at, excluded.first_seen_at),"
    " traits = CASE WHEN excluded.last_seen_at > people.last_seen_at THEN excluded.traits"
    " ELSE people.traits END, last_seen_at = GREATEST(people.last_seen_at, excluded.last_seen_at)"
)


async def restore_person_displays(
    conn: Connection, touchpoint_id: int, displays: Sequence[tuple[str, str, float]]
) -> None:
    have = await all_rows(
        conn,
        "SELECT person, kind, at FROM person_displays WHERE touchpoint_id = %s FOR UPDATE",
        (touchpoint_id,),
    )
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO person_displays (person, touchpoint_id, kind, at) VALUES (%s, %s, %s, %s)",
            [
                (p, touchpoint_id, kind, at)
                for p, kind, at in missing_displays([tuple(r) for r in have], displays)
            ],
        )


async def restore_impressions(
    conn: Connection, touchpoint_id: int, hours: Sequence[tuple[int, int]]
) -> None:
    """Under the fold's lock, so the impressions counted here and in the log stay put."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (FOLD_LOCK,))
    have = dict(await impression_hours(conn, touchpoint_id))
    missing = [(hour, count - have.get(hour, 0)) for hour, count in hours]
    missing = [(hour, n) for hour, n in missing if n > 0]
    if not missing:
        return
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (%s, %s, %s)"
            " ON CONFLICT (touchpoint_id, hour) DO UPDATE"
            " SET count = impressions.count + excluded.count",
            [(touchpoint_id, hour, n) for hour, n in missing],
        )
    await conn.execute(
        "INSERT INTO display_totals (touchpoint_id, impressions) VALUES (%s, %s)"
        " ON CONFLICT (touchpoint_id) DO UPDATE"
        " SET impressions = display_totals.impressions + excluded.impressions",
        (touchpoint_id, sum(n for _, n in missing)),
    )
