"""`Store`: the one storage interface the rest of Scorelet talks to.

It owns two connections to one SQLite file in WAL mode: the writer's (all
writes, group-committed, see writer.py) and a read-only one for queries.
Touchpoints, API keys and every touchpoint's all-time counts are kept in
memory: read on every request, they are updated by each write made here
right after its commit (in commit order, by the writer), and reloaded when
another process (the `scorelet` CLI) changes the file, which `maintain`
notices through `PRAGMA data_version` once a second.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

from scorelet.displays import Displays
from scorelet.store import reads, writes
from scorelet.store.records import (
    TOUCHPOINT_COLUMNS,
    ApiKey,
    NewResponse,
    Response,
    ResponseQuery,
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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything kept in memory, read in one transaction."""

    data_version: int
    touchpoints: list[Touchpoint]
    keys: list[ApiKey]
    counts: dict[int, dict[int, int]]
    displays: dict[int, Displays]


def _snapshot(conn: sqlite3.Connection) -> Snapshot:
    counts, displays = reads.totals(conn)
    return Snapshot(
        _data_version(conn),
        reads.load_touchpoints(conn),
        reads.load_keys(conn),
        counts,
        displays,
    )


class Store:
    def __init__(self, path: Path, writer_conn: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer_conn = writer_conn
        self._reader = reader
        self.writer = Writer(writer_conn)
        self._touchpoints: dict[str, Touchpoint] = {}
        self._keys: dict[str, ApiKey] = {}
        self._data_version: int | None = None
        # All-time counts per touchpoint, kept in step by the writer's commits,
        # so the most-polled number never needs the database.
        self._counts: dict[int, dict[int, int]] = {}
        self._displays: dict[int, Displays] = {}
        # Ratings received since start, per score (a change of mind counts again):
        # monotonic, as Prometheus counters must be.
        self.received: dict[int, dict[int, int]] = {}
        # A counter bumped by every committed change; per touchpoint, when its
        # numbers (scored) and its responses (listed) last changed. Starting
        # from the clock keeps it increasing across restarts (SSE event ids).
        self.generation = time.time_ns() // 1_000_000
        self.scored_generation = self.generation  # the last change to any touchpoint's numbers
        self._scored_at: dict[int, int] = {}
        self._listed_at: dict[int, int] = {}
        self._changed = asyncio.Event()

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
        store.writer.start()
        await store.reload()
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
        """Re-read everything kept in memory, in order with the writer's commits."""
        await self.writer.write(_snapshot, self._install)

    def _install(self, snapshot: Snapshot) -> None:
        """Take a fresh snapshot; only touchpoints whose numbers differ count as re-scored.

        A `scorelet key create` or a change to one touchpoint then leaves the
        others' cached answers and event streams alone. Listings may hold
        anything another process changed, so every touchpoint's is renewed.
        """
        before = {tp.slug: self._numbers(tp.id) for tp in self._touchpoints.values()}
        previous = dict(self._touchpoints)
        self._data_version = snapshot.data_version
        self._touchpoints = {tp.slug: tp for tp in snapshot.touchpoints}
        self._keys = {key.id: key for key in snapshot.keys}
        self._counts = snapshot.counts
        self._displays = snapshot.displays
        for touchpoint in snapshot.touchpoints:
            same = previous.get(touchpoint.slug) == touchpoint
            scored = not same or before.get(touchpoint.slug) != self._numbers(touchpoint.id)
            self._changed_now(touchpoint.id, scored=scored)

    def _numbers(self, touchpoint_id: int) -> tuple[dict[int, int], Displays | None]:
        counts = {s: c for s, c in self._counts.get(touchpoint_id, {}).items() if c}
        return counts, self._displays.get(touchpoint_id)

    async def maintain(self) -> None:
        """Once a second: checkpoint the WAL outside any commit, and pick up CLI changes."""
        await in_thread(self._reader, _checkpoint, "PASSIVE")
        await self.refresh_if_changed()

    async def refresh_if_changed(self) -> None:
        """Reload what is kept in memory if another process changed the file."""
        if await in_thread(self._writer_conn, _data_version) != self._data_version:
            await self.reload()

    # -- change tracking ------------------------------------------------------

    def _changed_now(self, touchpoint_id: int, scored: bool) -> None:
        self.generation += 1
        self._listed_at[touchpoint_id] = self.generation
        if scored:
            self._scored_at[touchpoint_id] = self.scored_generation = self.generation
            self._changed.set()
            self._changed = asyncio.Event()

    def scored_at(self, touchpoint_id: int) -> int:
        """The generation at which this touchpoint's numbers last changed."""
        return self._scored_at.get(touchpoint_id, 0)

    def listed_at(self, touchpoint_id: int) -> int:
        """The generation at which any of this touchpoint's responses last changed."""
        return self._listed_at.get(touchpoint_id, 0)

    async def wait_for_change(self, seconds: float) -> bool:
        """Wait until some touchpoint's numbers change; False after `seconds`."""
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # -- responses and impressions -----------------------------------------

    async def record_response(self, new: NewResponse) -> tuple[Response, int | None]:
        """Store a rating; returns it and the score it replaced (None: a new rating)."""
        return await self.writer.write(
            partial(writes.record_response, new=new, now=time.time()),
            partial(self._count_response, shown=new.shown),
            single_statement=True,
        )

    def _count_response(self, result: tuple[Response, int | None], shown: bool) -> None:
        response, previous = result
        if shown and previous is None:  # the insert trigger counted it into its hour too
            displays = self._displays.get(response.touchpoint_id, Displays())
            self._displays[response.touchpoint_id] = replace(
                displays, answered=displays.answered + 1
            )
        counts = self._counts.setdefault(response.touchpoint_id, {})
        counts[response.score] = counts.get(response.score, 0) + 1
        if previous is not None:
            counts[previous] -= 1
        received = self.received.setdefault(response.touchpoint_id, {})
        received[response.score] = received.get(response.score, 0) + 1
        self._changed_now(response.touchpoint_id, scored=previous != response.score)

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
        return await self.writer.write(
            write,
            lambda response: self._changed_now(response.touchpoint_id, scored=False),
            single_statement=True,
        )

    async def record_impression(self, touchpoint_id: int) -> None:
        def counted(_: None) -> None:
            displays = self._displays.get(touchpoint_id, Displays())
            self._displays[touchpoint_id] = replace(displays, impressions=displays.impressions + 1)
            self._changed_now(touchpoint_id, scored=True)

        hour = int(time.time() // 3600)
        await self.writer.write(
            partial(writes.record_impression, touchpoint_id=touchpoint_id, hour=hour),
            counted,
            single_statement=True,
        )

    async def response(self, response_id: str) -> Response | None:
        return await in_thread(self._reader, reads.get_response, response_id)

    async def counts(
        self,
        touchpoint_id: int,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> tuple[dict[int, int], Displays | None]:
        """Score counts and displays (None under context filters) for a window.

        All-time counts come from memory; windows and filters from the rollups.
        """
        if since is None and until is None and not filters:
            return self.totals(touchpoint_id)
        return await in_thread(self._reader, _counts, touchpoint_id, since, until, filters or {})

    def totals(self, touchpoint_id: int) -> tuple[dict[int, int], Displays]:
        """All-time counts and displays, from memory."""
        counts = self._counts.get(touchpoint_id, {})
        displays = self._displays.get(touchpoint_id, Displays())
        return {s: c for s, c in counts.items() if c}, displays

    async def series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str] | None = None,
    ) -> list[tuple[dict[int, int], Displays | None]]:
        """Counts and displays for each [start, end) bucket, in one round trip."""
        return await in_thread(self._reader, _series, touchpoint_id, buckets, filters or {})

    async def breakdown(
        self,
        touchpoint_id: int,
        key: str,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> dict[str, dict[int, int]]:
        """Score counts per value of the context `key`, e.g. per agent."""
        return await in_thread(
            self._reader, reads.breakdown, touchpoint_id, key, since, until, filters or {}
        )

    async def context_keys(self, touchpoint_id: int) -> list[str]:
        """Every context key the touchpoint's ratings carry, sorted (export columns)."""
        return await in_thread(self._reader, reads.context_keys, touchpoint_id)

    async def list_responses(
        self, query: ResponseQuery, limit: int, after: tuple[float, str] | None = None
    ) -> list[Response]:
        """One page of responses, newest first, after the keyset cursor `after`."""
        return await in_thread(self._reader, reads.list_responses, query, limit, after)

    async def iter_responses(
        self, query: ResponseQuery, page: int = 1000
    ) -> AsyncIterator[list[Response]]:
        """Every matching response, newest first, a page at a time (constant memory)."""
        after = None
        while True:
            rows = await self.list_responses(query, page, after)
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = (rows[-1].created_at, rows[-1].id)

    # -- touchpoints ----------------------------------------------------------

    async def create_touchpoint(self, fields: dict[str, Any]) -> Touchpoint:
        def create(conn: sqlite3.Connection) -> Touchpoint:
            writes.create_touchpoint(conn, fields, time.time())
            return _touchpoint_row(conn, fields["slug"])

        return await self.writer.write(create, self._remember)

    async def update_touchpoint(
        self, slug: str, fields: dict[str, Any], rotate_token: bool = False
    ) -> Touchpoint:
        def update(conn: sqlite3.Connection) -> Touchpoint:
            writes.update_touchpoint(conn, slug, fields, rotate_token, time.time())
            return _touchpoint_row(conn, slug)

        return await self.writer.write(update, self._remember)

    async def delete_touchpoint(self, slug: str) -> None:
        touchpoint = self._touchpoints.get(slug)

        def forget(_: None) -> None:
            self._touchpoints.pop(slug, None)
            if touchpoint is not None:
                self._counts.pop(touchpoint.id, None)
                self._displays.pop(touchpoint.id, None)
                self._changed_now(touchpoint.id, scored=True)

        await self.writer.write(partial(writes.delete_touchpoint, slug=slug), forget)

    def _remember(self, touchpoint: Touchpoint) -> None:
        self._touchpoints[touchpoint.slug] = touchpoint
        self._changed_now(touchpoint.id, scored=True)

    # -- API keys ---------------------------------------------------------------

    async def create_api_key(self, scope: str, name: str | None) -> tuple[ApiKey, str]:
        """A new key; the full key is returned here once and stored only as a hash."""
        key_id, full_key = new_api_key()
        key = ApiKey(key_id, name, scope, hash_api_key(full_key), time.time())
        write = partial(
            writes.create_key,
            key_id=key_id,
            name=name,
            scope=scope,
            digest=key.hash,
            now=key.created_at,
        )
        await self.writer.write(write, lambda _: self._keys.__setitem__(key_id, key))
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
) -> tuple[dict[int, int], Displays | None]:
    counts = reads.count_scores(conn, touchpoint_id, since, until, filters)
    displays = None if filters else reads.count_impressions(conn, touchpoint_id, since, until)
    return counts, displays


def _series(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    buckets: Sequence[tuple[float, float]],
    filters: Mapping[str, str],
) -> list[tuple[dict[int, int], Displays | None]]:
    return [_counts(conn, touchpoint_id, start, end, filters) for start, end in buckets]


def _checkpoint(conn: sqlite3.Connection, mode: str) -> None:
    conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()


def _data_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA data_version").fetchone()[0]
    return version
