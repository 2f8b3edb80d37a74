"""`Store`: the one storage interface the rest of Scorelet talks to.

It owns two connections to one SQLite file in WAL mode: the writer's (all
writes, group-committed, see writer.py) and a read-only one for queries.
Touchpoints and API keys are few and read on every request, so they are
kept in memory, updated on every write made here, and reloaded when another
process (the `scorelet` CLI) changes the file, which `maintain` notices
through `PRAGMA data_version` once a second.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

from scorelet.store import reads, writes
from scorelet.store.records import (
    TOUCHPOINT_COLUMNS,
    ApiKey,
    NewResponse,
    Response,
    touchpoint_from_row,
)
from scorelet.store.schema import migrate
from scorelet.store.writer import Writer, in_thread
from scorelet.tokens import hash_api_key, new_api_key
from scorelet.touchpoints import Touchpoint

SYNC_MODES = ("full", "normal")


def _configure(conn: sqlite3.Connection, synchronous: str, read_only: bool) -> None:
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
        return
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"SQLite refused WAL mode (got {mode!r}); is the data directory local?")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    # Checkpoints run once a second from `maintain`; this is only the safety net.
    conn.execute("PRAGMA wal_autocheckpoint = 10000")
    migrate(conn)


class Store:
    def __init__(self, path: Path, writer_conn: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer_conn = writer_conn
        self._reader = reader
        self.writer = Writer(writer_conn)
        self._touchpoints: dict[str, Touchpoint] = {}
        self._keys: dict[str, ApiKey] = {}
        self._data_version: int | None = None

    @classmethod
    async def open(cls, path: Path, synchronous: str = "full") -> Store:
        """Open (creating if needed) the database, apply migrations, start the writer."""
        if synchronous not in SYNC_MODES:
            raise ValueError(f"synchronous must be one of {SYNC_MODES}")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        writer_conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await in_thread(writer_conn, _configure, synchronous, False)
            reader = await aiosqlite.connect(path, isolation_level=None)
        except BaseException:
            await writer_conn.close()
            raise
        await in_thread(reader, _configure, synchronous, True)
        store = cls(path, writer_conn, reader)
        await store.reload()
        store.writer.start()
        return store

    async def close(self) -> None:
        """Commit what is queued, checkpoint, and close both connections."""
        await self.writer.stop()
        await self._reader.close()
        await in_thread(self._writer_conn, _checkpoint, "TRUNCATE")
        await self._writer_conn.close()

    # -- in-memory registry -------------------------------------------------

    def touchpoint(self, slug: str) -> Touchpoint | None:
        return self._touchpoints.get(slug)

    def touchpoints(self) -> list[Touchpoint]:
        return sorted(self._touchpoints.values(), key=lambda tp: tp.slug)

    def api_key(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def api_keys(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda key: key.created_at)

    async def reload(self) -> None:
        # Read the version first: a change landing during the reload is seen next tick.
        self._data_version = await in_thread(self._writer_conn, _data_version)
        touchpoints = await in_thread(self._reader, reads.load_touchpoints)
        keys = await in_thread(self._reader, reads.load_keys)
        self._touchpoints = {tp.slug: tp for tp in touchpoints}
        self._keys = {key.id: key for key in keys}

    async def maintain(self) -> None:
        """Once a second: checkpoint the WAL outside any commit, and pick up CLI changes."""
        await in_thread(self._reader, _checkpoint, "PASSIVE")
        if await in_thread(self._writer_conn, _data_version) != self._data_version:
            await self.reload()

    # -- responses and impressions -----------------------------------------

    async def record_response(self, new: NewResponse) -> tuple[Response, bool]:
        return await self.writer.write(partial(writes.record_response, new=new, now=time.time()))

    async def update_comment(
        self,
        response_id: str,
        comment: str | None,
        touchpoint_id: int,
        subject: str | None,
        edit_window: float | None,
    ) -> Response:
        write = partial(
            writes.update_comment,
            response_id=response_id,
            comment=comment,
            touchpoint_id=touchpoint_id,
            subject=subject,
            edit_window=edit_window,
            now=time.time(),
        )
        return await self.writer.write(write)

    async def record_impression(self, touchpoint_id: int) -> None:
        hour = int(time.time() // 3600)
        await self.writer.write(
            partial(writes.record_impression, touchpoint_id=touchpoint_id, hour=hour)
        )

    async def response(self, response_id: str) -> Response | None:
        return await in_thread(self._reader, reads.get_response, response_id)

    async def counts(
        self,
        touchpoint_id: int,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> tuple[dict[int, int], int | None]:
        """Score counts and impressions (None under context filters) for a window."""
        return await in_thread(self._reader, _counts, touchpoint_id, since, until, filters or {})

    # -- touchpoints ----------------------------------------------------------

    async def create_touchpoint(self, fields: dict[str, Any]) -> Touchpoint:
        def create(conn: sqlite3.Connection) -> Touchpoint:
            writes.create_touchpoint(conn, fields, time.time())
            return _touchpoint_row(conn, fields["slug"])

        return self._remember(await self.writer.write(create))

    async def update_touchpoint(
        self, slug: str, fields: dict[str, Any], rotate_token: bool = False
    ) -> Touchpoint:
        def update(conn: sqlite3.Connection) -> Touchpoint:
            writes.update_touchpoint(conn, slug, fields, rotate_token, time.time())
            return _touchpoint_row(conn, slug)

        return self._remember(await self.writer.write(update))

    async def delete_touchpoint(self, slug: str) -> None:
        await self.writer.write(partial(writes.delete_touchpoint, slug=slug))
        self._touchpoints.pop(slug, None)

    def _remember(self, touchpoint: Touchpoint) -> Touchpoint:
        self._touchpoints[touchpoint.slug] = touchpoint
        return touchpoint

    # -- API keys ---------------------------------------------------------------

    async def create_api_key(self, scope: str, name: str | None) -> tuple[ApiKey, str]:
        """A new key; the full key is returned here once and stored only as a hash."""
        key_id, full_key = new_api_key()
        key = ApiKey(key_id, name, scope, hash_api_key(full_key), time.time())
        await self.writer.write(
            partial(
                writes.create_key,
                key_id=key_id,
                name=name,
                scope=scope,
                digest=key.hash,
                now=key.created_at,
            )
        )
        self._keys[key_id] = key
        return key, full_key

    async def revoke_api_key(self, key_id: str) -> None:
        await self.writer.write(partial(writes.revoke_key, key_id=key_id, now=time.time()))
        await self.reload()


def _touchpoint_row(conn: sqlite3.Connection, slug: str) -> Touchpoint:
    row = conn.execute(
        f"SELECT {TOUCHPOINT_COLUMNS} FROM touchpoints WHERE slug = ?", (slug,)
    ).fetchone()
    return touchpoint_from_row(row)


def _counts(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> tuple[dict[int, int], int | None]:
    counts = reads.count_scores(conn, touchpoint_id, since, until, filters)
    impressions = None if filters else reads.count_impressions(conn, touchpoint_id, since, until)
    return counts, impressions


def _checkpoint(conn: sqlite3.Connection, mode: str) -> None:
    conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()


def _data_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA data_version").fetchone()[0]
    return version
