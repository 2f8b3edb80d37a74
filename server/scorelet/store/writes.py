"""Write operations: plain functions of a sqlite3 connection, run by the writer.

Each runs inside the writer's transaction. Those that change the database
with one statement after their checks (recording a rating, a comment, an
impression) run without a savepoint: a failed statement undoes itself. The
others run under a savepoint, so a `Problem` raised half-way leaves nothing
behind. Rollups are kept by triggers (see schema.py), not here.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from scorelet.errors import Problem
from scorelet.store.records import (
    RESPONSE_COLUMNS,
    NewResponse,
    Response,
    response_from_row,
    time_ordered_id,
)

# Contexts are stored compact; json.dumps with options would build an encoder per call.
_CONTEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _response(conn: sqlite3.Connection, where: str, *args: Any) -> Response | None:
    row = conn.execute(f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE {where}", args).fetchone()
    return response_from_row(row) if row else None


def record_response(
    conn: sqlite3.Connection, new: NewResponse, now: float
) -> tuple[Response, int | None]:
    """Store a rating; returns it and the score it replaced (None: a new rating)."""
    if new.subject is not None:
        existing = _response(
            conn, "touchpoint_id = ? AND subject = ?", new.touchpoint_id, new.subject
        )
        if existing is not None:  # one rating per subject: the latest wins
            return _replace(conn, existing, new, now), existing.score
    if new.id is not None:
        existing = _response(conn, "id = ?", new.id)
        if existing is not None:
            if (existing.touchpoint_id, existing.subject) != (new.touchpoint_id, new.subject):
                raise Problem(409, "id_conflict", "this id belongs to another response", "id")
            _check_window(existing, new.edit_window, now)
            return _replace(conn, existing, new, now), existing.score
    response_id = new.id or time_ordered_id(now)
    context = _CONTEXT.encode(dict(new.context)) if new.context else "{}"
    conn.execute(
        f"INSERT INTO responses ({RESPONSE_COLUMNS}, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            response_id,
            new.touchpoint_id,
            new.score,
            new.comment,
            new.subject,
            context,
            now,
            now,
            new.shown,
        ),
    )
    response = Response(
        response_id, new.touchpoint_id, new.score, new.comment, new.subject, new.context, now, now
    )
    return response, None


def _check_window(existing: Response, window: float | None, now: float) -> None:
    if window is not None and now > existing.created_at + window:
        raise Problem(
            409,
            "edit_window_closed",
            f"this rating can no longer be changed ({int(window // 3600)} h after it was given)",
            "id",
        )


def _replace(conn: sqlite3.Connection, old: Response, new: NewResponse, now: float) -> Response:
    comment = new.comment if new.comment is not None else old.comment
    context = {**old.context, **new.context}
    conn.execute(
        "UPDATE responses SET score = ?, comment = ?, context = ?, updated_at = ? WHERE id = ?",
        (new.score, comment, _CONTEXT.encode(context), now, old.id),
    )
    return Response(
        old.id, old.touchpoint_id, new.score, comment, old.subject, context, old.created_at, now
    )


def update_comment(
    conn: sqlite3.Connection,
    response_id: str,
    comment: str | None,
    touchpoint_id: int,
    subject: str | None,
    edit_window: float | None,
    now: float,
) -> Response:
    """Set or clear a rating's comment; the caller's token must be the rating's."""
    existing = _response(conn, "id = ?", response_id)
    if existing is None:
        raise Problem(404, "response_not_found", "no response has this id", "id")
    if existing.touchpoint_id != touchpoint_id or (
        subject is not None and existing.subject != subject
    ):
        raise Problem(
            403, "token_mismatch", "this token is not the one the rating was given with", "token"
        )
    if subject is None:
        _check_window(existing, edit_window, now)
    conn.execute(
        "UPDATE responses SET comment = ?, updated_at = ? WHERE id = ?", (comment, now, response_id)
    )
    return Response(
        existing.id,
        existing.touchpoint_id,
        existing.score,
        comment,
        existing.subject,
        existing.context,
        existing.created_at,
        now,
    )


def record_impression(conn: sqlite3.Connection, touchpoint_id: int, hour: int) -> None:
    conn.execute(
        "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (?, ?, 1)"
        " ON CONFLICT DO UPDATE SET count = count + 1",
        (touchpoint_id, hour),
    )


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(fields)
    for name in ("origins", "comment_prompts"):
        if name in encoded:
            encoded[name] = json.dumps(encoded[name], ensure_ascii=False)
    if "active" in encoded:
        encoded["active"] = int(encoded["active"])
    return encoded


def create_touchpoint(conn: sqlite3.Connection, fields: dict[str, Any], now: float) -> None:
    columns = {**_encode(fields), "created_at": now, "updated_at": now}
    retired = conn.execute(
        "SELECT token_version FROM retired_slugs WHERE slug = ?", (fields["slug"],)
    ).fetchone()
    if retired is not None:  # the name was used before: its old tokens stay refused
        columns["token_version"] = retired[0] + 1
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    try:
        conn.execute(f"INSERT INTO touchpoints ({names}) VALUES ({marks})", tuple(columns.values()))
    except sqlite3.IntegrityError:
        raise Problem(
            409, "touchpoint_exists", f"a touchpoint named {fields['slug']!r} exists", "slug"
        ) from None


def update_touchpoint(
    conn: sqlite3.Connection, slug: str, fields: dict[str, Any], rotate: bool, now: float
) -> None:
    columns = {**_encode(fields), "updated_at": now}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    if rotate:
        assignments += ", token_version = token_version + 1"
    cursor = conn.execute(
        f"UPDATE touchpoints SET {assignments} WHERE slug = ?", (*columns.values(), slug)
    )
    if cursor.rowcount == 0:
        raise touchpoint_not_found(slug)


def delete_touchpoint(conn: sqlite3.Connection, slug: str) -> None:
    row = conn.execute("SELECT id FROM touchpoints WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        raise touchpoint_not_found(slug)
    for table in (
        "rollups",
        "hourly_rollups",
        "context_rollups",
        "context_totals",
    ):
        conn.execute(f"DELETE FROM {table} WHERE touchpoint_id = ?", row)
    conn.execute(
        "INSERT INTO retired_slugs (slug, token_version)"
        " SELECT slug, token_version FROM touchpoints WHERE id = ?"
        " ON CONFLICT DO UPDATE SET token_version = excluded.token_version",
        row,
    )
    conn.execute("DELETE FROM touchpoints WHERE id = ?", row)


def touchpoint_not_found(slug: str) -> Problem:
    return Problem(404, "touchpoint_not_found", f"no touchpoint is named {slug!r}", "slug")


def create_key(
    conn: sqlite3.Connection, key_id: str, name: str | None, scope: str, digest: str, now: float
) -> None:
    conn.execute(
        "INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, name, scope, digest, now),
    )


def revoke_key(conn: sqlite3.Connection, key_id: str, now: float) -> None:
    cursor = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id)
    )
    if cursor.rowcount == 0:
        raise Problem(404, "key_not_found", f"no active API key has the id {key_id!r}", "id")
