"""Write operations: functions of the writer's connection and its batch, run by the writer.

A new rating is one INSERT. Replacing or deleting a rating also writes the
version it undoes into `undone`, inside a savepoint, so the next fold can
take that version back out of the rollups. Nothing here touches a rollup;
fold.py does, in batches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from scorelet.dedup import ClientWindow
from scorelet.routing.table import Table
from scorelet.store.columns import (
    KEY_COLUMNS,
    USER_FIELDS,
    touchpoint_row,
    touchpoint_values,
    user_values,
)
from scorelet.store.errors import AlreadyExists, NotFound, Refused
from scorelet.store.interface import Registry
from scorelet.store.records import Identity, NewResponse, Response, User, time_ordered_id
from scorelet.store.seen import missing_displays
from scorelet.store.sqlite import tags
from scorelet.store.sqlite.routing import RoutingCache, bump
from scorelet.store.sqlite.rows import (
    ROW_COLUMNS,
    TOUCHPOINT_COLUMNS,
    USER_COLUMNS,
    StoredRow,
    encode_context,
    stored_row,
    touchpoint_from_row,
    user_from_row,
)
from scorelet.store.sqlite.threads import Tx
from scorelet.timeutil import HOUR
from scorelet.touchpoints import Touchpoint

INSERT = (
    "INSERT INTO responses (seq, id, touchpoint_id, score, comment, subject, context, client,"
    " created_at, updated_at, shown, person) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The traits a person's latest identity token carried, and when they were first and last seen.
SEEN_PERSON = (
    "INSERT INTO people (id, traits, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET traits = excluded.traits,"
    " last_seen_at = excluded.last_seen_at"
)


def _row(conn: sqlite3.Connection, where: str, *args: Any) -> StoredRow | None:
    row = conn.execute(f"SELECT {ROW_COLUMNS} FROM responses WHERE {where}", args).fetchone()
    return stored_row(row) if row else None


def id_conflict() -> Refused:
    return Refused(
        "id_conflict", "this id belongs to another touchpoint's or subject's rating", "id"
    )


def record(
    conn: sqlite3.Connection,
    tx: Tx,
    new: NewResponse,
    now: float,
    clients: ClientWindow,
    routing: RoutingCache,
) -> tuple[Response, Response | None]:
    """Store a rating with what its rules decide; returns it and the version it replaced.

    One rating per subject, and per browser (`client`) within the edit window:
    a later one replaces it. An `id` may only name the caller's own rating.
    The client map is only used here, in the writer's thread, so looking up a
    browser's earlier rating and writing its new one are one step. Tags from
    tagging rules and deliveries of notify rules go into the same transaction.
    """
    table = routing.current(conn, tx)
    if not table.rules:  # the common case: one INSERT (or a replacement's own savepoint)
        stored, previous = _store(conn, tx, new, now, clients)
        if previous is not None:
            stored = tags.annotate(conn, [stored])[0]
        return stored, previous
    if table.tags_ratings:
        with tx.atomic():
            return _routed(conn, tx, table, _store(conn, tx, new, now, clients), now)
    # Notify rules alone write nothing after the rating but deliveries kept for the batch's
    # end (tx.later), so the rating needs no savepoint: should anything after its write
    # fail, the whole batch fails, which leaves nothing behind either.
    written = _store(conn, tx, new, now, clients)
    with tx.whole():
        return _routed(conn, tx, table, written, now)


def _routed(
    conn: sqlite3.Connection,
    tx: Tx,
    table: Table,
    stored: tuple[Response, Response | None],
    now: float,
) -> tuple[Response, Response | None]:
    rating, previous = stored
    if previous is None:
        return tags.route(conn, tx, table, rating, "created", now), None
    existing = tags.tags_of(conn, rating.id)
    rating = tags.route(conn, tx, table, rating, "updated", now, existing)
    annotated = tags.annotate(conn, [rating])[0]
    return replace(annotated, tags=rating.tags), previous


def _store(
    conn: sqlite3.Connection, tx: Tx, new: NewResponse, now: float, clients: ClientWindow
) -> tuple[Response, Response | None]:
    """The rating and, once it is accepted, its person's traits: a refused one keeps none."""
    stored = _store_rating(conn, tx, new, now, clients)
    if new.identity is not None:
        _seen_person(conn, new.identity, now)
    return stored


def _store_rating(
    conn: sqlite3.Connection, tx: Tx, new: NewResponse, now: float, clients: ClientWindow
) -> tuple[Response, Response | None]:
    response_id = new.id
    if new.subject is not None:
        existing = _row(conn, "touchpoint_id = ? AND subject = ?", new.touchpoint_id, new.subject)
        if existing is not None:  # one rating per subject: the latest wins
            if (
                new.id is not None
                and new.id != existing.response.id
                and _row(conn, "id = ?", new.id)
            ):
                raise id_conflict()
            return _replace(conn, tx, existing, new, now), existing.response
    elif new.client is not None:
        response_id = clients.previous(new.touchpoint_id, new.client, now) or response_id
    if response_id is not None:
        existing = _row(conn, "id = ?", response_id)
        if existing is not None:
            old = existing.response
            if (old.touchpoint_id, old.subject) != (new.touchpoint_id, new.subject):
                raise id_conflict()
            _check_window(old, new.edit_window, now)
            _remember(clients, new, old.id, now)
            return _replace(conn, tx, existing, new, now), old
    response_id = response_id or time_ordered_id(now)
    context = encode_context(new.context)
    conn.execute(
        INSERT,
        (
            tx.seq(),
            response_id,
            new.touchpoint_id,
            new.score,
            new.comment,
            new.subject,
            context,
            new.client if new.subject is None else None,
            now,
            now,
            new.shown,
            new.identity.person if new.identity else None,
        ),
    )
    _remember(clients, new, response_id, now)
    response = Response(
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
    return response, None


def _seen_person(conn: sqlite3.Connection, identity: Identity, now: float) -> None:
    conn.execute(SEEN_PERSON, (identity.person, encode_context(identity.traits), now, now))


def _remember(clients: ClientWindow, new: NewResponse, response_id: str, now: float) -> None:
    if new.client is not None and new.subject is None:
        clients.remember(new.touchpoint_id, new.client, response_id, now)


def _check_window(existing: Response, window: float | None, now: float) -> None:
    if window is not None and now > existing.created_at + window:
        raise Refused(
            "edit_window_closed",
            f"this rating can no longer be changed ({int(window // 3600)} h after it was given)",
            "id",
        )


def _undo(conn: sqlite3.Connection, tx: Tx, old: StoredRow) -> None:
    """Keep the version being replaced or deleted, so the fold can take it back out."""
    response = old.response
    conn.execute(
        "INSERT INTO undone (seq, old_seq, touchpoint_id, score, context, created_at, shown)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            tx.seq(),
            old.seq,
            response.touchpoint_id,
            response.score,
            encode_context(response.context),
            response.created_at,
            response.shown,
        ),
    )


def _replace(
    conn: sqlite3.Connection, tx: Tx, old: StoredRow, new: NewResponse, now: float
) -> Response:
    """The new score and context replace the old; a comment is kept unless a new one comes.

    Context is replaced whole: a re-minted token that no longer names a team
    must not leave the old team on the rating. A display that led to the rating
    stays answered whichever way the change came. The row takes a new `seq`, so
    the fold counts its new version.
    """
    previous = old.response
    comment = new.comment if new.comment is not None else previous.comment
    shown = previous.shown or new.shown
    person = new.identity.person if new.identity else previous.person
    with tx.atomic():
        _undo(conn, tx, old)
        conn.execute(
            "UPDATE responses SET seq = ?, score = ?, comment = ?, context = ?, updated_at = ?,"
            " shown = ?, person = ? WHERE seq = ?",
            (
                tx.seq(),
                new.score,
                comment,
                encode_context(new.context),
                now,
                shown,
                person,
                old.seq,
            ),
        )
        if new.score != previous.score:
            conn.execute(
                "UPDATE response_tags SET score = ? WHERE response_id = ?",
                (new.score, previous.id),
            )
    return Response(
        previous.id,
        previous.touchpoint_id,
        new.score,
        comment,
        previous.subject,
        dict(new.context),
        previous.created_at,
        now,
        shown,
        person=person,
    )


def import_ratings(conn: sqlite3.Connection, tx: Tx, ratings: Sequence[Response]) -> list[Response]:
    """Store ratings verbatim; those whose id or subject is taken are skipped."""
    stored = []
    for rating in ratings:
        cursor = conn.execute(
            INSERT.replace("INSERT", "INSERT OR IGNORE", 1),
            (
                tx.seq(),
                rating.id,
                rating.touchpoint_id,
                rating.score,
                rating.comment,
                rating.subject,
                encode_context(rating.context),
                None,
                rating.created_at,
                rating.updated_at,
                rating.shown,
                rating.person,
            ),
        )
        if cursor.rowcount:
            stored.append(rating)
    tags.restore(conn, stored)
    return stored


def comment(
    conn: sqlite3.Connection,
    tx: Tx,
    response_id: str,
    text: str | None,
    touchpoint_id: int,
    subject: str | None,
    edit_window: float | None,
    now: float,
    routing: RoutingCache,
) -> tuple[Response, bool]:
    """Set or clear a rating's comment; the caller's token must be the rating's. Returns the
    rating and whether its tags changed (tagging rules run again on the new comment).

    A comment changes no count, so the row keeps its `seq`.
    """
    existing = _row(conn, "id = ?", response_id)
    if existing is None:
        raise NotFound("response", response_id)
    old = existing.response
    if old.touchpoint_id != touchpoint_id or (subject is not None and old.subject != subject):
        raise Refused(
            "token_mismatch", "this token is not the one the rating was given with", "token"
        )
    if subject is None:
        _check_window(old, edit_window, now)
    table = routing.current(conn, tx)
    with tx.atomic():
        conn.execute(
            "UPDATE responses SET comment = ?, updated_at = ? WHERE seq = ?",
            (text, now, existing.seq),
        )
        stored = replace(old, comment=text, updated_at=now)
        before = tags.tags_of(conn, response_id)
        if table.rules:
            stored = tags.route(conn, tx, table, stored, "commented", now, before)
        else:
            stored = replace(stored, tags=tuple(before))
        retagged = tuple(before) != stored.tags
        if retagged:  # no count moved, yet other processes' tag-filtered numbers did
            tags.mark(conn, touchpoint_id)
    annotated = tags.annotate(conn, [stored])[0]
    return replace(annotated, tags=stored.tags), retagged


def delete(conn: sqlite3.Connection, tx: Tx, response_id: str) -> Response:
    existing = _row(conn, "id = ?", response_id)
    if existing is None:
        raise NotFound("response", response_id)
    with tx.atomic():
        _undo(conn, tx, existing)
        conn.execute("DELETE FROM responses WHERE seq = ?", (existing.seq,))
        tags.forget(conn, response_id)
    return existing.response


def record_impression(
    conn: sqlite3.Connection,
    tx: Tx,
    touchpoint_id: int,
    identity: Identity | None,
    now: float,
) -> None:
    """Count a display in its hour; an identified one is also kept for the person."""
    conn.execute(
        "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (?, ?, 1)"
        " ON CONFLICT DO UPDATE SET count = count + 1",
        (touchpoint_id, int(now // HOUR)),
    )
    if identity is not None:
        record_display(conn, tx, touchpoint_id, identity, "shown", now)


def record_display(
    conn: sqlite3.Connection,
    tx: Tx,
    touchpoint_id: int,
    identity: Identity,
    kind: str,
    now: float,
) -> None:
    """A person was shown the widget, or closed it: never an answer."""
    _seen_person(conn, identity, now)
    conn.execute(
        "INSERT INTO person_displays (person, touchpoint_id, kind, at) VALUES (?, ?, ?, ?)",
        (identity.person, touchpoint_id, kind, now),
    )


def forget_person(
    conn: sqlite3.Connection, tx: Tx, person: str
) -> tuple[list[Response], dict[int, int]]:
    """Erase a person: their ratings (through the delete path, so the fold takes them out of
    the rollups), their displays (and the impressions they were counted as) and traits.

    Returns the ratings removed and the impressions taken back per touchpoint.
    """
    rows = conn.execute(
        f"SELECT {ROW_COLUMNS} FROM responses WHERE person = ? ORDER BY seq", (person,)
    ).fetchall()
    shown = conn.execute(
        "SELECT touchpoint_id, CAST(at / 3600 AS INTEGER), count(*) FROM person_displays"
        " WHERE person = ? AND kind = 'shown' GROUP BY 1, 2",
        (person,),
    ).fetchall()
    removed: dict[int, int] = {}
    with tx.atomic():
        for row in rows:
            existing = stored_row(row)
            _undo(conn, tx, existing)
            conn.execute("DELETE FROM responses WHERE seq = ?", (existing.seq,))
            tags.forget(conn, existing.response.id)  # and nothing unsent goes out about it
        for touchpoint_id, hour, count in shown:
            conn.execute(
                "UPDATE impressions SET count = count - ? WHERE touchpoint_id = ? AND hour = ?",
                (count, touchpoint_id, hour),
            )
            removed[touchpoint_id] = removed.get(touchpoint_id, 0) + count
        conn.execute("DELETE FROM person_displays WHERE person = ?", (person,))
        conn.execute("DELETE FROM people WHERE id = ?", (person,))
    return [stored_row(row).response for row in rows], removed


def save_setting(conn: sqlite3.Connection, tx: Tx, name: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


# -- touchpoints ------------------------------------------------------------------------------


def touchpoint_by_slug(conn: sqlite3.Connection, slug: str) -> Touchpoint:
    row = conn.execute(
        f"SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints WHERE slug = ?", (slug,)
    ).fetchone()
    if row is None:
        raise NotFound("touchpoint", slug)
    return touchpoint_from_row(row)


def create_touchpoint(
    conn: sqlite3.Connection, tx: Tx, fields: Mapping[str, Any], now: float
) -> Touchpoint:
    columns = {**touchpoint_values(fields), "created_at": now, "updated_at": now}
    retired = conn.execute(
        "SELECT token_version FROM retired_slugs WHERE slug = ?", (fields["slug"],)
    ).fetchone()
    if retired is not None:  # the name was used before: its old tokens stay refused
        columns["token_version"] = retired[0] + 1
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    try:
        with tx.atomic():
            conn.execute(
                f"INSERT INTO touchpoints ({names}) VALUES ({marks})", tuple(columns.values())
            )
            bump(conn)
    except sqlite3.IntegrityError:
        raise AlreadyExists("touchpoint", fields["slug"]) from None
    return touchpoint_by_slug(conn, fields["slug"])


def update_touchpoint(
    conn: sqlite3.Connection,
    tx: Tx,
    slug: str,
    fields: Mapping[str, Any],
    rotate: bool,
    now: float,
) -> Touchpoint:
    columns = {**touchpoint_values(fields), "updated_at": now}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    if rotate:
        assignments += ", token_version = token_version + 1"
    with tx.atomic():
        cursor = conn.execute(
            f"UPDATE touchpoints SET {assignments} WHERE slug = ?", (*columns.values(), slug)
        )
        if cursor.rowcount == 0:
            raise NotFound("touchpoint", slug)
        bump(conn)
    return touchpoint_by_slug(conn, slug)


ROLLUP_TABLES = ("rollups", "hourly_rollups", "context_rollups", "context_totals", "score_totals")


def delete_touchpoint(conn: sqlite3.Connection, tx: Tx, slug: str) -> Touchpoint:
    touchpoint = touchpoint_by_slug(conn, slug)
    with tx.atomic():
        tags.forget_touchpoint(conn, touchpoint.id)
        bump(conn)
        for table in (*ROLLUP_TABLES, "undone"):
            conn.execute(f"DELETE FROM {table} WHERE touchpoint_id = ?", (touchpoint.id,))
        conn.execute(
            "INSERT INTO retired_slugs (slug, token_version) VALUES (?, ?)"
            " ON CONFLICT DO UPDATE SET token_version = excluded.token_version",
            (slug, touchpoint.token_version),
        )
        conn.execute("DELETE FROM touchpoints WHERE id = ?", (touchpoint.id,))
    return touchpoint


# -- API keys ----------------------------------------------------------------------------------


def create_key(
    conn: sqlite3.Connection,
    tx: Tx,
    key_id: str,
    name: str | None,
    scope: str,
    digest: str,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, name, scope, digest, now),
    )


def revoke_key(conn: sqlite3.Connection, tx: Tx, key_id: str, now: float) -> None:
    cursor = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id)
    )
    if cursor.rowcount == 0:
        raise NotFound("active API key", key_id)


# -- copies from another database ---------------------------------------------------------


def restore_registry(conn: sqlite3.Connection, tx: Tx, registry: Registry) -> None:
    for touchpoint in registry.touchpoints:
        cursor = conn.execute(
            "UPDATE touchpoints SET token_version = max(token_version, ?) WHERE slug = ?",
            (touchpoint.token_version, touchpoint.slug),
        )
        if cursor.rowcount == 0:
            columns = touchpoint_row(touchpoint)
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            conn.execute(
                f"INSERT INTO touchpoints ({names}) VALUES ({marks})", tuple(columns.values())
            )
    conn.executemany(
        "INSERT INTO retired_slugs (slug, token_version) VALUES (?, ?) ON CONFLICT (slug)"
        " DO UPDATE SET token_version = max(token_version, excluded.token_version)",
        registry.retired.items(),
    )
    conn.executemany(
        f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id)"
        " DO UPDATE SET revoked_at = coalesce(api_keys.revoked_at, excluded.revoked_at)",
        [(k.id, k.name, k.scope, k.hash, k.created_at, k.revoked_at) for k in registry.keys],
    )
    conn.executemany(
        f"INSERT OR IGNORE INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [user_values(user) for user in registry.users],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)", registry.settings.items()
    )
    conn.executemany(
        RESTORE_PERSON,
        [
            (p.id, encode_context(p.traits), p.first_seen_at, p.last_seen_at)
            for p in registry.people
        ],
    )


# A copied person: the traits of whichever database saw them last.
RESTORE_PERSON = (
    "INSERT INTO people (id, traits, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET first_seen_at = min(first_seen_at, excluded.first_seen_at),"
    " traits = CASE WHEN excluded.last_seen_at > last_seen_at THEN excluded.traits"
    " ELSE traits END, last_seen_at = max(last_seen_at, excluded.last_seen_at)"
)


def restore_person_displays(
    conn: sqlite3.Connection,
    tx: Tx,
    touchpoint_id: int,
    displays: Sequence[tuple[str, str, float]],
) -> None:
    have = conn.execute(
        "SELECT person, kind, at FROM person_displays WHERE touchpoint_id = ?", (touchpoint_id,)
    ).fetchall()
    conn.executemany(
        "INSERT INTO person_displays (person, touchpoint_id, kind, at) VALUES (?, ?, ?, ?)",
        [(p, touchpoint_id, kind, at) for p, kind, at in missing_displays(have, displays)],
    )


def restore_impressions(
    conn: sqlite3.Connection, tx: Tx, touchpoint_id: int, hours: Sequence[tuple[int, int]]
) -> None:
    conn.executemany(
        "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET count = max(count, excluded.count)",
        [(touchpoint_id, hour, count) for hour, count in hours],
    )


# -- dashboard accounts --------------------------------------------------------------------


def create_user(conn: sqlite3.Connection, tx: Tx, user: User) -> None:
    try:
        conn.execute(
            f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", user_values(user)
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists("user", user.email) from None


def _user(conn: sqlite3.Connection, user_id: str) -> User:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound("user", user_id)
    return user_from_row(row)


def update_user(
    conn: sqlite3.Connection,
    tx: Tx,
    user_id: str,
    fields: Mapping[str, Any],
    end_sessions: bool,
    now: float,
) -> User:
    assert fields.keys() <= USER_FIELDS, fields
    columns = {**fields, "updated_at": now}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    if end_sessions:
        assignments += ", session_version = session_version + 1"
    cursor = conn.execute(
        f"UPDATE users SET {assignments} WHERE id = ?", (*columns.values(), user_id)
    )
    if cursor.rowcount == 0:
        raise NotFound("user", user_id)
    return _user(conn, user_id)


def delete_user(conn: sqlite3.Connection, tx: Tx, user_id: str) -> User:
    user = _user(conn, user_id)
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return user
