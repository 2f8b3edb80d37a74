"""The PostgreSQL backend: any number of Scorelet processes on one database.

psycopg 3 with psycopg_pool: server-side prepared statements are off
(`prepare_threshold=None`), so the pool works through pgbouncer in
transaction mode; LISTEN holds a connection of its own, which must reach
PostgreSQL directly or through session pooling (SCORELET_DATABASE_LISTEN_URL
when the main URL goes through a transaction-mode pooler).

Every write batch notifies the others with the touchpoints it changed. A
process that hears of another's change rereads its snapshot (small tables:
totals, registry, what is unfolded) through its own writer queue, so it
stays in order with its own commits, and marks those touchpoints' listings
changed. A lost notification can't leave it stale for long: it resyncs when
the LISTEN connection comes back and every few seconds anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from scorelet.displays import Displays
from scorelet.eligibility import Seen
from scorelet.rollups import Counted
from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule
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
from scorelet.store.postgres import accounts, fold, outbox, people, reads, routing, tags, writes
from scorelet.store.postgres.connection import (
    CHANNEL,
    CONNECT_TIMEOUT,
    QUIET,
    Connection,
    Writer,
    read,
)
from scorelet.store.postgres.schema import MIGRATION_LOCK, MIGRATIONS
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
from scorelet.touchpoints import Touchpoint

T = TypeVar("T")
log = logging.getLogger("scorelet.postgres")
IMPORT_BATCH = 2000
RESYNC_EVERY = 3.0  # seconds, whatever the notifications say
RESYNC_AFTER = 0.2  # a burst of notifications costs one resync
POOL_SIZE = 8


async def migrate(conninfo: str) -> list[int]:
    """Apply pending migrations under a session advisory lock: processes starting together
    wait for each other, and each migration runs once."""
    applied = []
    async with await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, prepare_threshold=None, connect_timeout=10
    ) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"
            )
            cursor = await conn.execute("SELECT max(version) FROM schema_version")
            row = await cursor.fetchone()
            current = (row[0] if row else None) or 0
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"the database is at schema {current}, newer than this Scorelet knows"
                    f" ({len(MIGRATIONS)}); upgrade Scorelet"
                )
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                async with conn.transaction():
                    await conn.execute(script.encode())
                    await conn.execute(
                        "INSERT INTO schema_version (version) VALUES (%s)", (number,)
                    )
                applied.append(number)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


async def database_secrets(conninfo: str, proposed: str | None = None) -> tuple[str, ...]:
    """The signing secrets kept in the database, the one that signs first; the first
    process that needs one makes it (`proposed`, or a new random one)."""
    await migrate(conninfo)
    async with await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, prepare_threshold=None, connect_timeout=10
    ) as conn:
        await conn.execute(
            "INSERT INTO secrets (id, secret) SELECT 1, %s"
            " WHERE NOT EXISTS (SELECT 1 FROM secrets) ON CONFLICT (id) DO NOTHING",
            (proposed or secrets.token_urlsafe(32),),
        )
        cursor = await conn.execute("SELECT secret FROM secrets ORDER BY id")
        return tuple(row[0] for row in await cursor.fetchall())


async def replace_database_secrets(conninfo: str, signing: tuple[str, ...]) -> None:
    """Sign with `signing[0]` from now on and accept the rest (a copy brings its source's
    secrets, so tokens already embedded keep working)."""
    await migrate(conninfo)
    async with (
        await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, prepare_threshold=None, connect_timeout=10
        ) as conn,
        conn.transaction(),
    ):
        await conn.execute("DELETE FROM secrets")
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO secrets (id, secret) VALUES (%s, %s)",
                list(enumerate(signing, start=1)),
            )


class PostgresBackend:
    def __init__(self, conninfo: str, pool: AsyncConnectionPool[Any], listen_to: str) -> None:
        self.conninfo = conninfo
        self._pool = pool
        self._listen_to = listen_to
        self._process = secrets.token_hex(6)
        self._writer = Writer(pool, self._process)
        self._routing = routing.RoutingCache(self._writer)  # used only by the writer's task
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stale = asyncio.Event()
        self._touched: set[int] = set()
        self.created = False

    @classmethod
    async def open(cls, conninfo: str, listen_url: str | None = None) -> PostgresBackend:
        """Connect, migrate, start the writer and the listener."""
        try:
            applied = await migrate(conninfo)
        except psycopg.Error as error:
            raise Unavailable(f"can't open the PostgreSQL database: {error}") from error
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_SIZE,
            open=False,
            timeout=CONNECT_TIMEOUT,
            kwargs={"autocommit": True, "prepare_threshold": None, "connect_timeout": 5},
        )
        await pool.open(wait=True, timeout=15)
        backend = cls(conninfo, pool, listen_url or conninfo)
        backend.created = 1 in applied
        backend._writer.start()
        return backend

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)
        if not self._tasks:  # someone keeps a cache: keep it in step with the others
            self._tasks = [
                asyncio.create_task(self._hear(), name="scorelet-listen"),
                asyncio.create_task(self._resync(), name="scorelet-resync"),
            ]

    def _emit(self, change: Change) -> None:
        for listener in self._listeners:
            listener(change)

    async def _write(
        self,
        fn: Callable[[Connection], Awaitable[T]],
        on_commit: Callable[[T], None] | None = None,
        touched: int | None = None,
    ) -> T:
        return await self._writer.write(fn, on_commit, touched)

    async def _read(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        return await read(self._pool, fn)

    async def snapshot(self) -> Snapshot:
        """Read through the writer's queue: in order with this process's own commits."""
        return await self._write(tags.snapshot)

    # -- hearing the other processes ------------------------------------------------------

    async def _hear(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._listen_to, autocommit=True, prepare_threshold=None, connect_timeout=5
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._stale.set()  # (re)connected: whatever we missed, resync once
                    async for note in conn.notifies():
                        process, _, named = note.payload.partition(" ")
                        if process == self._process:
                            continue
                        if named:
                            self._touched.update(int(t) for t in named.split(","))
                        else:
                            self._touched.add(-1)
                        self._stale.set()
            except (psycopg.Error, OSError) as error:
                log.warning("lost the LISTEN connection (%s); trying again", error)
                await asyncio.sleep(1)

    async def _resync(self) -> None:
        """Reread on a hint, after a reconnect, and every few seconds regardless; while the
        database is away, every second (so /healthz sees it come back)."""
        every = RESYNC_EVERY
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands as
            # the event is set, and close() would wait for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self._stale.wait()
            await asyncio.sleep(RESYNC_AFTER)
            self._stale.clear()
            touched, self._touched = self._touched, set()
            try:
                await self._refresh(touched)
                every = RESYNC_EVERY
            except Exception as error:  # the database is away: the next round tries again
                self._touched |= touched | {-1}
                every = 1.0
                log.debug("resync failed: %s", error)

    async def _refresh(self, touched: set[int]) -> None:
        def reloaded(snapshot: Snapshot) -> None:
            self._emit(Reloaded(snapshot, frozenset(touched)))

        await self._write(tags.snapshot, reloaded)

    async def refresh(self) -> None:
        await self._refresh(set())

    # -- ratings -----------------------------------------------------------------------

    async def record(self, new: NewResponse, now: float) -> Recorded:
        stored, previous = await self._write(
            partial(tags.record, new=new, now=now, cache=self._routing),
            lambda result: self._emit(Rated(*result)),
            new.touchpoint_id,
        )
        return Recorded(stored, previous)

    async def import_ratings(self, ratings: Sequence[Response]) -> int:
        stored = 0
        for start in range(0, len(ratings), IMPORT_BATCH):
            new = await self._write(
                partial(tags.import_ratings, ratings=ratings[start : start + IMPORT_BATCH]),
                lambda new: self._emit(Imported(new)),
            )
            stored += len(new)
        return stored

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
            tags.comment,
            response_id=response_id,
            text=comment,
            touchpoint_id=touchpoint_id,
            subject=subject,
            edit_window=edit_window,
            now=now,
            cache=self._routing,
        )
        stored, _ = await self._write(
            write, lambda result: self._emit(Commented(*result)), touchpoint_id
        )
        return stored

    async def delete_response(self, response_id: str) -> Response:
        return await self._write(
            partial(tags.delete, response_id=response_id), lambda r: self._emit(Deleted(r))
        )

    async def record_impression(
        self, touchpoint_id: int, identity: Identity | None, now: float
    ) -> None:
        write = partial(
            people.record_impression, touchpoint_id=touchpoint_id, identity=identity, now=now
        )
        await self._write(write, lambda _: self._emit(Shown(touchpoint_id)), touchpoint_id)

    async def record_dismissal(self, touchpoint_id: int, identity: Identity, now: float) -> None:
        write = partial(
            people.record_display,
            touchpoint_id=touchpoint_id,
            identity=identity,
            kind="dismissed",
            now=now,
        )
        await self._write(write, touched=touchpoint_id)

    # -- people ------------------------------------------------------------------------

    async def seen(self, person: str) -> dict[int, Seen]:
        return await self._read(partial(people.seen, person=person))

    async def history(self, person: str) -> History:
        return await self._read(partial(people.history, person=person))

    async def forget_person(self, person: str) -> Forgotten:
        async def erase(conn: Connection) -> Forgotten:
            responses, impressions = await people.forget_person(conn, person)
            return Forgotten(person, responses, impressions)

        return await self._write(erase, self._emit)

    async def save_setting(self, name: str, value: str) -> None:
        await self._write(
            partial(people.save_setting, name=name, value=value),
            lambda _: self._emit(SettingSaved(name, value)),
        )

    async def response(self, response_id: str) -> Response | None:
        return await self._read(partial(tags.response, response_id=response_id))

    async def counts(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> Counts:
        return await self._read(
            partial(
                tags.counts,
                touchpoint_id=touchpoint_id,
                since=since,
                until=until,
                filters=filters,
                tag=tag,
            )
        )

    async def displays(
        self, touchpoint_id: int, since: float | None, until: float | None
    ) -> Displays:
        async def displays(conn: Connection) -> Displays:
            return await reads.Window(conn, touchpoint_id).displays(since, until)

        return await self._read(displays)

    async def context_keys(self, touchpoint_id: int) -> list[str]:
        return await self._read(partial(reads.context_keys, touchpoint_id=touchpoint_id))

    async def series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[tuple[Counts, Displays | None]]:
        return await self._read(
            partial(
                tags.series, touchpoint_id=touchpoint_id, buckets=buckets, filters=filters, tag=tag
            )
        )

    async def tag_series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[dict[str, int]]:
        return await self._read(
            partial(
                tags.tag_series,
                touchpoint_id=touchpoint_id,
                buckets=buckets,
                filters=filters,
                tag=tag,
            )
        )

    async def breakdown(
        self,
        touchpoint_id: int,
        key: str,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> dict[str, Counts]:
        return await self._read(
            partial(
                tags.breakdown,
                touchpoint_id=touchpoint_id,
                key=key,
                since=since,
                until=until,
                filters=filters,
                tag=tag,
            )
        )

    async def by_tag(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
    ) -> dict[str, Counts]:
        return await self._read(
            partial(
                tags.by_tag, touchpoint_id=touchpoint_id, since=since, until=until, filters=filters
            )
        )

    async def list_responses(
        self, query: ResponseQuery, limit: int, after: tuple[float, str] | None
    ) -> list[Response]:
        return await self._read(partial(tags.list_responses, query=query, limit=limit, after=after))

    async def commented(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        search: Sequence[str],
        tag: str | None = None,
    ) -> list[Counted]:
        read = partial(
            reads.commented,
            touchpoint_id=touchpoint_id,
            since=since,
            until=until,
            filters=filters,
            words=search,
            tag=tag,
        )
        return await self._read(read)

    # -- touchpoints and keys ----------------------------------------------------------

    async def create_touchpoint(self, fields: Mapping[str, Any], now: float) -> Touchpoint:
        return await self._write(
            partial(tags.create_touchpoint, fields=dict(fields), now=now), self._saved
        )

    async def update_touchpoint(
        self, slug: str, fields: Mapping[str, Any], rotate_token: bool, now: float
    ) -> Touchpoint:
        write = partial(
            tags.update_touchpoint, slug=slug, fields=dict(fields), rotate=rotate_token, now=now
        )
        return await self._write(write, self._saved)

    def _saved(self, touchpoint: Touchpoint) -> None:
        self._emit(TouchpointSaved(touchpoint))

    async def delete_touchpoint(self, slug: str) -> Touchpoint:
        return await self._write(
            partial(tags.delete_touchpoint, slug=slug),
            lambda tp: self._emit(TouchpointRemoved(tp)),
        )

    async def create_api_key(self, key: ApiKey) -> None:
        await self._write(partial(writes.create_key, key=key), lambda _: self._emit(KeySaved(key)))

    async def registry(self) -> Registry:
        return await self._read(reads.registry)

    async def restore_registry(self, registry: Registry) -> None:
        await self._write(partial(writes.restore_registry, registry=registry))

    async def impression_hours(self, touchpoint_id: int) -> list[tuple[int, int]]:
        return await self._read(partial(reads.impression_hours, touchpoint_id=touchpoint_id))

    async def person_displays(self, touchpoint_id: int) -> list[tuple[str, str, float]]:
        return await self._read(partial(reads.person_displays, touchpoint_id=touchpoint_id))

    async def restore_person_displays(
        self, touchpoint_id: int, displays: Sequence[tuple[str, str, float]]
    ) -> None:
        write = partial(
            writes.restore_person_displays, touchpoint_id=touchpoint_id, displays=displays
        )
        await self._write(write, touched=touchpoint_id)

    async def restore_impressions(
        self, touchpoint_id: int, hours: Sequence[tuple[int, int]]
    ) -> None:
        await self._write(
            partial(writes.restore_impressions, touchpoint_id=touchpoint_id, hours=hours),
            touched=touchpoint_id,
        )

    async def revoke_api_key(self, key_id: str, now: float) -> ApiKey:
        return await self._write(
            partial(writes.revoke_key, key_id=key_id, now=now),
            lambda key: self._emit(KeySaved(key)),
        )

    # -- tags, rules, destinations, deliveries, digests -------------------------------------

    def _annotated(self, response: Response) -> None:
        self._emit(Annotated(response.touchpoint_id))

    async def add_tag(self, response_id: str, tag: str, now: float) -> Response:
        write = partial(tags.add_tag, response_id=response_id, tag=tag, now=now)
        return await self._write(write, self._annotated)

    async def remove_tag(self, response_id: str, tag: str) -> Response:
        write = partial(tags.remove_tag, response_id=response_id, tag=tag)
        return await self._write(write, self._annotated)

    async def create_destination(self, new: NewDestination, now: float) -> Destination:
        return await self._write(
            partial(routing.create_destination, new=new, now=now), touched=QUIET
        )

    async def destinations(self) -> list[Destination]:
        return await self._read(routing.destinations)

    async def remove_destination(self, name: str) -> Destination:
        return await self._write(partial(routing.remove_destination, name=name), touched=QUIET)

    async def enable_destination(self, name: str) -> Destination:
        return await self._write(partial(routing.enable_destination, name=name), touched=QUIET)

    async def create_rule(self, rule: Rule) -> Rule:
        return await self._write(partial(routing.create_rule, new=rule), touched=QUIET)

    async def rules(self) -> list[Rule]:
        return await self._read(routing.rules)

    async def remove_rule(self, name: str) -> Rule:
        return await self._write(partial(routing.remove_rule, name=name), touched=QUIET)

    async def backfill(self, rule: str, since: float | None, cursor: int, limit: int) -> Backfilled:
        def done(result: Backfilled) -> None:
            for touchpoint_id in result.touchpoints:
                self._emit(Annotated(touchpoint_id))

        step = partial(
            tags.backfill,
            cache=self._routing,
            rule_name=rule,
            since=since,
            cursor=cursor,
            limit=limit,
        )
        return await self._write(step, done)

    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float, busy: Sequence[int] = ()
    ) -> list[Claimed]:
        claim = partial(outbox.claim, now=now, limit=limit, lease=lease_seconds, busy=tuple(busy))
        return await self._write(claim, touched=QUIET)

    async def renew_deliveries(self, ids: Sequence[str], until: float) -> None:
        await self._write(partial(outbox.renew, ids=tuple(ids), until=until), touched=QUIET)

    async def finish_delivery(self, delivery_id: str, outcome: Outcome, now: float) -> None:
        def linked(response: Response | None) -> None:
            if response is not None:
                self._annotated(response)

        # Only an issue linked to a rating changes what other processes show.
        touched = None if outcome.issue is not None else QUIET
        write = partial(outbox.finish, delivery_id=delivery_id, outcome=outcome, now=now)
        await self._write(write, linked, touched)

    async def deliveries(
        self, state: str | None, destination: str | None, limit: int
    ) -> list[Delivery]:
        return await self._read(
            partial(outbox.deliveries, state=state, destination=destination, limit=limit)
        )

    async def retry_deliveries(self, ids: Sequence[str] | None, now: float) -> list[Delivery]:
        ids = tuple(ids) if ids is not None else None
        return await self._write(partial(outbox.retry, ids=ids, now=now), touched=QUIET)

    async def create_digest(self, digest: Digest, now: float) -> Digest:
        return await self._write(partial(routing.create_digest, new=digest, now=now), touched=QUIET)

    async def digests(self) -> list[Digest]:
        return await self._read(routing.digests)

    async def remove_digest(self, name: str) -> Digest:
        return await self._write(partial(routing.remove_digest, name=name), touched=QUIET)

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
        return await self._write(write, touched=QUIET)

    # -- dashboard accounts ------------------------------------------------------------

    async def create_user(self, user: User) -> None:
        await self._write(partial(accounts.create_user, user=user))

    async def update_user(
        self, user_id: str, fields: Mapping[str, Any], end_sessions: bool, now: float
    ) -> User:
        write = partial(
            accounts.update_user,
            user_id=user_id,
            fields=dict(fields),
            end_sessions=end_sessions,
            now=now,
        )
        return await self._write(write)

    async def delete_user(self, user_id: str) -> User:
        return await self._write(partial(accounts.delete_user, user_id=user_id))

    async def user(self, user_id: str) -> User | None:
        return await self._read(partial(accounts.user, column="id", value=user_id))

    async def user_by_email(self, email: str) -> User | None:
        return await self._read(partial(accounts.user, column="email", value=email))

    async def users(self) -> list[User]:
        return await self._read(accounts.users)

    # -- derived data and upkeep --------------------------------------------------------

    async def fold(self) -> int:
        """Fold until caught up; 0 when another process holds the fold."""
        folded = 0
        while True:
            try:
                async with (
                    self._pool.connection(timeout=CONNECT_TIMEOUT) as conn,
                    conn.transaction(),
                ):
                    changes = await fold.fold(conn)
            except psycopg.errors.SerializationFailure:
                return folded  # another process folded after this snapshot: theirs stands
            except psycopg.Error as error:
                raise Unavailable(f"the fold failed: {error}") from error
            if not changes:
                return folded
            folded += changes
            if changes < fold.FOLD_LIMIT:
                return folded

    async def unfolded(self) -> int:
        return await self._read(reads.unfolded_count)

    async def recount(self, touchpoint_id: int | None = None) -> RollupCheck:
        return await self._read(partial(fold.recount, touchpoint_id=touchpoint_id))

    async def maintain(self) -> None:
        """PostgreSQL checkpoints and vacuums by itself."""

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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            if self._writer.running:
                with contextlib.suppress(Unavailable):
                    await self.fold()
        finally:
            await self._writer.stop()
            await self._pool.close()
