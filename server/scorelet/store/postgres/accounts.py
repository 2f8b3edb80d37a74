"""Dashboard accounts on PostgreSQL: the same rules as SQLite's (store/sqlite/writes.py).

Accounts are read on every dashboard request and never cached, so another
process's change (a `scorelet user` command) counts at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from scorelet.store.columns import USER_COLUMNS, USER_FIELDS, user_from_row, user_values
from scorelet.store.errors import AlreadyExists, NotFound
from scorelet.store.postgres.connection import Connection
from scorelet.store.postgres.reads import all_rows
from scorelet.store.records import User


async def create_user(conn: Connection, user: User) -> None:
    try:
        async with conn.transaction():  # a savepoint: a taken address must not sink the batch
            await conn.execute(
                f"INSERT INTO users ({USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                user_values(user),
            )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists("user", user.email) from None


async def update_user(
    conn: Connection, user_id: str, fields: Mapping[str, Any], end_sessions: bool, now: float
) -> User:
    assert fields.keys() <= USER_FIELDS, fields
    columns = {**fields, "updated_at": now}
    assignments = ", ".join(f"{name} = %s" for name in columns)
    if end_sessions:
        assignments += ", session_version = session_version + 1"
    rows = await all_rows(
        conn,
        f"UPDATE users SET {assignments} WHERE id = %s RETURNING {USER_COLUMNS}",
        (*columns.values(), user_id),
    )
    if not rows:
        raise NotFound("user", user_id)
    return user_from_row(rows[0])


async def delete_user(conn: Connection, user_id: str) -> User:
    rows = await all_rows(
        conn, f"DELETE FROM users WHERE id = %s RETURNING {USER_COLUMNS}", (user_id,)
    )
    if not rows:
        raise NotFound("user", user_id)
    return user_from_row(rows[0])


async def user(conn: Connection, column: str, value: str) -> User | None:
    assert column in ("id", "email")
    rows = await all_rows(conn, f"SELECT {USER_COLUMNS} FROM users WHERE {column} = %s", (value,))
    return user_from_row(rows[0]) if rows else None


async def users(conn: Connection) -> list[User]:
    rows = await all_rows(conn, f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email")
    return [user_from_row(row) for row in rows]
