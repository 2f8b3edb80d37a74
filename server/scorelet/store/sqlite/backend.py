"""The SQLite backend: one file in WAL mode, one writer thread, one reader thread.

Another process (the `scorelet` CLI) may write to the same file; `maintain`
notices through `PRAGMA data_version` and tells the listener to reload.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from scorelet.dedup import EDIT_WINDOW, ClientWindow
from scorelet.displays import Displays
from scorelet.eligibility import Seen
from scorelet.rollups import Counted
from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule
from scorelet.search import contains
from scorelet.store.errors import Unavailable
from scorelet.store.interface import (
    Annotated,
    Change,
    Commented,
    Counts,
    Deleted,
    Forgotten,
    Health,
    History,
    Imported,
    KeySaved,
    Listener,
    Rated,
    Recorded,
    Registry,
    Reloaded,
    RollupCheck,
    SettingSaved,
    Shown,
    Snapshot,
    TouchpointRemoved,
    TouchpointSaved,
)
from scorelet.store.records import (
    ApiKey,
    Backfilled,
    Claimed,
    Delivery,
    Digest,
    Identity,
    NewResponse,
    Outcome,
    Response,
    ResponseQuery,
    User,
)
from scorelet.store.sqlite import fold, outbox, reads, routing, tags, writes
from scorelet.store.sqlite.rows import KEY_COLUMNS, key_from_row
from scorelet.store.sqlite.schema import migrate
from scorelet.store.sqlite.threads import Reader, Tx, Writer
from scorelet.touchpoints import Touchpoint

SYNC_MODES = ("full", "normal")
# Imports commit in transactions of this many ratings, so they never hold the writer long.
IMPORT_BATCH = 5000
# After a checkpoint, SQLite cuts the WAL back to this: a burst doesn't leave it at its peak.
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024


def _connect(path: Path, synchronous: str, read_only: bool) -> tuple[sqlite3.Connection, bool]:
    """A configured connection, and whether migrating it created the database."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.create_function("scorelet_contains", 2, contains, deterministic=True)
        if read_only:
            conn.execute("PRAGMA query_only = ON")
            return conn, False
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise Unavailable(
                f"SQLite refused WAL mode (got {mode!r}); is the data directory on a local disk?"
            )
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        # Checkpoints run once a second from `maintain`; this is only the safety net.
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        created = 1 in migrate(conn)
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn, created


class SqliteBackend:
    def __init__(self, path: Path, writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
        self.path = path
        self.fold_limit = fold.FOLD_LIMIT  # ratings per fold step (a backlog takes several)
        self._writer_conn = writer
        self._writer = Writer(writer)
        self._reader = Reader(reader)
        self._listeners: list[Listener] = []
        self._clients = ClientWindow(EDIT_WINDOW)
        self._routing = routing.RoutingCache()  # used only in the writer's thread
        self._data_version = self._version(writer)
        self.created = False

    @classmethod
    async def open(cls, path: Path, synchronous: str = "full") -> SqliteBackend:
        """Open (creating if needed) the database, apply migrations, start the threads."""
        if synchronous not in SYNC_MODES:
            raise ValueError(f"synchronous must be one of {SYNC_MODES}")
        try:
            writer, created = _connect(path, synchronous, read_only=False)
        except sqlite3.Error as error:
            raise Unavailable(f"can't open the database {path}: {error}") from error
        reader, _ = _connect(path, synchronous, read_only=True)
        backend = cls(path, writer, reader)
        backend.created = created
        backend._writer.start()
        now = time.time()
        for touchpoint_id, client, response_id, at in await backend._reader.read(
            reads.recent_clients, now - EDIT_WINDOW
        ):
            backend._clients.remember(touchpoint_id, client, response_id, at)
        return backend

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, change: Change) -> None:
        for listener in self._listeners:
            listener(change)

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        version: int = conn.execute("PRAGMA data_version").fetchone()[0]
        return version

    async def snapshot(self) -> Snapshot:
        def read(conn: sqlite3.Connection, tx: Tx) -> Snapshot:
            self._data_version = self._version(conn)
            return reads.snapshot(conn)

        return await self._writer.write(read)

    # -- ratings ---------------------------------------------------------------------

    async def record(self, new: NewResponse, now: float) -> Recorded:
        def committed(result: tuple[Response, Response | None]) -> None:
            self._emit(Rated(*result))

        stored, previous = await self._writer.write(
            partial(writes.record, new=new, now=now, clients=self._clients, routing=self._routing),
            committed,
            defers=True,
        )
        return Recorded(stored, previous)

    async def comment(
        self,
        response_id: str,
        comment: str | None,
        touchpoint_id: int,
        subject: str | None,
        edit_window: float | None,
        now: float,
    ) -> Response:
        write = partial(
            writes.comment,
            response_id=response_id,
            text=comment,
            touchpoint_id=touchpoint_id,
            subject=subject,
            edit_window=edit_window,
            now=now,
            routing=self._routing,
        )
        stored, _ = await self._writer.write(write, lambda r: self._emit(Commented(*r)))
        return stored

    async def import_ratings(self, ratings: Sequence[Response]) -> int:
        stored = 0
        for start in range(0, len(ratings), IMPORT_BATCH):
            chunk = ratings[start : start + IMPORT_BATCH]
            new = await self._writer.write(
                partial(writes.import_ratings, ratings=chunk),
                lambda new: self._emit(Imported(new)),
            )
            stored += len(new)
        return stored

    async def delete_response(self, response_id: str) -> Response:
        return await self._writer.write(
            partial(writes.delete, response_id=response_id), lambda r: self._emit(Deleted(r))
        )

    async def record_impression(
        self, touchpoint_id: int, identity: Identity | None, now: float
    ) -> None:
        write = partial(
            writes.record_impression, touchpoint_id=touchpoint_id, identity=identity, now=now
        )
        await self._writer.write(write, lambda _: self._emit(Shown(touchpoint_id)))

    async def record_dismissal(self, touchpoint_id: int, identity: Identity, now: float) -> None:
        write = partial(
            writes.record_display,
            touchpoint_id=touchpoint_id,
            identity=identity,
            kind="dismissed",
            now=now,
        )
        await self._writer.write(write)

    # -- people ------------------------------------------------------------------------

    async def seen(self, person: str) -> dict[int, Seen]:
        return await self._reader.read(reads.seen, person)

    async def history(self, person: str) -> History:
        return await self._reader.read(reads.history, person)

    async def forget_person(self, person: str) -> Forgotten:
        def erase(conn: sqlite3.Connection, tx: Tx) -> Forgotten:
            responses, impressions = writes.forget_person(conn, tx, person)
            return Forgotten(person, responses, impressions)

        return await self._writer.write(erase, self._emit)

    async def save_setting(self, name: str, value: str) -> None:
        write = partial(writes.save_setting, name=name, value=value)
        await self._writer.write(write, lambda _: self._emit(SettingSaved(name, value)))

    async def response(self, response_id: str) -> Response | None:
        return await self._reader.read(reads.response, response_id)

    async def counts(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> Counts:
        return await self._reader.read(reads.counts, touchpoint_id, since, until, filters, tag)

    async def displays(
        self, touchpoint_id: int, since: float | None, until: float | None
    ) -> Displays:
        return await self._reader.read(reads.displays, touchpoint_id, since, until)

    async def context_keys(self, touchpoint_id: int) -> list[str]:
        return await self._reader.read(reads.context_keys, touchpoint_id)

    async def series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[tuple[Counts, Displays | None]]:
        return await self._reader.read(reads.series, touchpoint_id, buckets, filters, tag)

    async def tag_series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[dict[str, int]]:
        return await self._reader.read(tags.tag_series, touchpoint_id, buckets, filters, tag)

    async def breakdown(
        self,
        touchpoint_id: int,
        key: str,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> dict[str, Counts]:
        return await self._reader.read(
            reads.breakdown, touchpoint_id, key, since, until, filters, tag
        )

    async def by_tag(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
    ) -> dict[str, Counts]:
        return await self._reader.read(tags.by_tag, touchpoint_id, since, until, filters)

    async def list_responses(
        self, query: ResponseQuery, limit: int, after: tuple[float, str] | None
    ) -> list[Response]:
        return await self._reader.read(reads.list_responses, query, limit, after)

    async def commented(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        search: Sequence[str],
        tag: str | None = None,
    ) -> list[Counted]:
        return await self._reader.read(
            reads.commented, touchpoint_id, since, until, filters, search, tag
        )

    # -- touchpoints and keys ----------------------------------------------------------

    async def create_touchpoint(self, fields: Mapping[str, Any], now: float) -> Touchpoint:
        return await self._writer.write(
            partial(writes.create_touchpoint, fields=fields, now=now), self._saved
        )

    async def update_touchpoint(
        self, slug: str, fields: Mapping[str, Any], rotate_token: bool, now: float
    ) -> Touchpoint:
        write = partial(
            writes.update_touchpoint, slug=slug, fields=fields, rotate=rotate_token, now=now
        )
        return await self._writer.write(write, self._saved)

    def _saved(self, touchpoint: Touchpoint) -> None:
        self._emit(TouchpointSaved(touchpoint))

    async def delete_touchpoint(self, slug: str) -> Touchpoint:
        return await self._writer.write(
            partial(writes.delete_touchpoint, slug=slug),
            lambda tp: self._emit(TouchpointRemoved(tp)),
        )

    async def create_api_key(self, key: ApiKey) -> None:
        write = partial(
            writes.create_key,
            key_id=key.id,
            name=key.name,
            scope=key.scope,
            digest=key.hash,
            now=key.created_at,
        )
        await self._writer.write(write, lambda _: self._emit(KeySaved(key)))

    async def registry(self) -> Registry:
        return await self._reader.read(reads.registry)

    async def restore_registry(self, registry: Registry) -> None:
        await self._writer.write(partial(writes.restore_registry, registry=registry))

    async def impression_hours(self, touchpoint_id: int) -> list[tuple[int, int]]:
        return await self._reader.read(reads.impression_hours, touchpoint_id)

    async def person_displays(self, touchpoint_id: int) -> list[tuple[str, str, float]]:
        return await self._reader.read(reads.person_displays, touchpoint_id)

    async def restore_person_displays(
        self, touchpoint_id: int, displays: Sequence[tuple[str, str, float]]
    ) -> None:
        write = partial(
            writes.restore_person_displays, touchpoint_id=touchpoint_id, displays=displays
        )
        await self._writer.write(write)

    async def restore_impressions(
        self, touchpoint_id: int, hours: Sequence[tuple[int, int]]
    ) -> None:
        await self._writer.write(
            partial(writes.restore_impressions, touchpoint_id=touchpoint_id, hours=hours)
        )

    async def revoke_api_key(self, key_id: str, now: float) -> ApiKey:
        def revoke(conn: sqlite3.Connection, tx: Tx) -> ApiKey:
            writes.revoke_key(conn, tx, key_id, now)
            row = conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            return key_from_row(row)

        return await self._writer.write(revoke, lambda key: self._emit(KeySaved(key)))

    # -- tags, rules, destinations, deliveries, digests -------------------------------------

    def _annotated(self, response: Response) -> None:
        self._emit(Annotated(response.touchpoint_id))

    async def add_tag(self, response_id: str, tag: str, now: float) -> Response:
        write = partial(tags.add_tag, response_id=response_id, tag=tag, now=now)
        return await self._writer.write(write, self._annotated)

    async def remove_tag(self, response_id: str, tag: str) -> Response:
        write = partial(tags.remove_tag, response_id=response_id, tag=tag)
        return await self._writer.write(write, self._annotated)

    async def create_destination(self, new: NewDestination, now: float) -> Destination:
        return await self._writer.write(partial(routing.create_destination, new=new, now=now))

    async def destinations(self) -> list[Destination]:
        return await self._reader.read(routing.destinations)

    async def remove_destination(self, name: str) -> Destination:
        return await self._writer.write(partial(routing.remove_destination, name=name))

    async def enable_destination(self, name: str) -> Destination:
        return await self._writer.write(partial(routing.enable_destination, name=name))

    async def create_rule(self, rule: Rule) -> Rule:
        return await self._writer.write(partial(routing.create_rule, new=rule))

    async def rules(self) -> list[Rule]:
        return await self._reader.read(routing.rules)

    async def remove_rule(self, name: str) -> Rule:
        return await self._writer.write(partial(routing.remove_rule, name=name))

    async def backfill(self, rule: str, since: float | None, cursor: int, limit: int) -> Backfilled:
        def step(conn: sqlite3.Connection, tx: Tx) -> Backfilled:
            table = self._routing.current(conn, tx)
            return tags.backfill(conn, tx, table, rule, since, cursor, limit)

        def done(result: Backfilled) -> None:
            for touchpoint_id in result.touchpoints:
                self._emit(Annotated(touchpoint_id))

        return await self._writer.write(step, done)

    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float, busy: Sequence[int] = ()
    ) -> list[Claimed]:
        write = partial(outbox.claim, now=now, limit=limit, lease=lease_seconds, busy=tuple(busy))
        return await self._writer.write(write)

    async def renew_deliveries(self, ids: Sequence[str], until: float) -> None:
        await self._writer.write(partial(outbox.renew, ids=tuple(ids), until=until))

    async def finish_delivery(self, delivery_id: str, outcome: Outcome, now: float) -> None:
        def linked(response: Response | None) -> None:
            if response is not None:
                self._annotated(response)

        write = partial(outbox.finish, delivery_id=delivery_id, outcome=outcome, now=now)
        await self._writer.write(write, linked)

    async def deliveries(
        self, state: str | None, destination: str | None, limit: int
    ) -> list[Delivery]:
        return await self._reader.read(outbox.deliveries, state, destination, limit)

    async def retry_deliveries(self, ids: Sequence[str] | None, now: float) -> list[Delivery]:
        ids = tuple(ids) if ids is not None else None
        return await self._writer.write(partial(outbox.retry, ids=ids, now=now))

    async def create_digest(self, digest: Digest, now: float) -> Digest:
        return await self._writer.write(partial(routing.create_digest, new=digest, now=now))

    async def digests(self) -> list[Digest]:
        return await self._reader.read(routing.digests)

    async def remove_digest(self, name: str) -> Digest:
        return await self._writer.write(partial(routing.remove_digest, name=name))

    async def queue_digest(
        self, name: str, period: str, payload: dict[str, Any], delivery_id: str, now: float
    ) -> bool:
        write = partial(
            outbox.queue_digest,
            name=name,
            period=period,
            payload=payload,
            delivery_id=delivery_id,
            now=now,
        )
        return await self._writer.write(write)

    # -- dashboard accounts ------------------------------------------------------------

    async def create_user(self, user: User) -> None:
        await self._writer.write(partial(writes.create_user, user=user))

    async def update_user(
        self, user_id: str, fields: Mapping[str, Any], end_sessions: bool, now: float
    ) -> User:
        write = partial(
            writes.update_user, user_id=user_id, fields=fields, end_sessions=end_sessions, now=now
        )
        return await self._writer.write(write)

    async def delete_user(self, user_id: str) -> User:
        return await self._writer.write(partial(writes.delete_user, user_id=user_id))

    async def user(self, user_id: str) -> User | None:
        return await self._reader.read(reads.user, "id", user_id)

    async def user_by_email(self, email: str) -> User | None:
        return await self._reader.read(reads.user, "email", email)

    async def users(self) -> list[User]:
        return await self._reader.read(reads.users)

    # -- derived data and upkeep ---------------------------------------------------------

    async def fold(self) -> int:
        folded = 0
        while True:
            pending = await self._reader.read(partial(fold.collect, limit=self.fold_limit))
            if pending.top == pending.start:
                return folded
            if not await self._writer.write(partial(fold.apply, pending=pending)):
                return folded  # someone else folded meanwhile: their fold stands
            folded += pending.changes

    async def unfolded(self) -> int:
        return await self._reader.read(reads.unfolded)

    async def recount(self, touchpoint_id: int | None = None) -> RollupCheck:
        return await self._reader.read(fold.recount, touchpoint_id)

    async def maintain(self) -> None:
        """Checkpoint the WAL outside any commit: SQLite's own would run inside one."""
        await self._reader.run(_checkpoint, "PASSIVE")

    async def refresh(self) -> None:
        def look(conn: sqlite3.Connection, tx: Tx) -> Snapshot | None:
            version = self._version(conn)
            if version == self._data_version:
                return None
            self._data_version = version
            return reads.snapshot(conn)

        def reloaded(snapshot: Snapshot | None) -> None:
            if snapshot is not None:
                self._emit(Reloaded(snapshot))

        await self._writer.write(look, reloaded)

    def health(self) -> Health:
        writer = self._writer
        return Health(
            ok=writer.running and writer.last_error is None,
            error=writer.last_error,
            queue_depth=writer.depth,
            batches=writer.batches,
            writes=writer.writes,
            batch_sizes=tuple(writer.batch_sizes),
        )

    async def close(self) -> None:
        """Commit what is queued, fold it, checkpoint, and close both connections."""
        try:
            if self._writer.running:
                await self.fold()
        finally:
            await self._writer.stop()
            await self._reader.close()
            _checkpoint(self._writer_conn, "TRUNCATE")
            self._writer_conn.close()


def probe_writable(database: Path) -> None:
    """Take the write lock and write a page, then roll back: a read-only file fails here."""
    try:
        conn = sqlite3.connect(database, isolation_level=None, timeout=10)
    except sqlite3.Error as error:
        raise Unavailable(f"can't open the database {database.resolve()}: {error}") from None
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("ROLLBACK")
    except sqlite3.Error as error:
        raise Unavailable(
            f"the database {database.resolve()} can't be written ({error}). Make it and its"
            " -wal and -shm files writable for this user, or serve a backup of it elsewhere"
        ) from None
    finally:
        conn.close()


def _checkpoint(conn: sqlite3.Connection, mode: str) -> None:
    conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
