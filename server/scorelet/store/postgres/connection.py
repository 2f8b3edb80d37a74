"""Connections to PostgreSQL: a pool, one write batch at a time per process, reads in snapshots.

Writes queue up and are committed together, as with SQLite: the writer task
takes what is queued, runs it in one transaction on one pooled connection,
notifies the other processes, and only then resolves each caller's future.
A write that fails inside PostgreSQL aborts the whole transaction, so the
batch is then run again one write per transaction, each getting its own
answer. A connection lost while the batch commits leaves the outcome
unknown: each batch writes a mark, and a fresh connection looks for it
before the batch is answered either way, so nothing committed is reported
lost and nothing lost is reported committed.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from scorelet.store.errors import StorageError, Unavailable
from scorelet.store.interface import BATCH_BUCKETS

T = TypeVar("T")
log = logging.getLogger("scorelet.writer")
Connection = psycopg.AsyncConnection[tuple[Any, ...]]
Write = Callable[[Connection], Awaitable[Any]]
OnCommit = Callable[[Any], None]
MAX_BATCH = BATCH_BUCKETS[-1]
CHANNEL = "scorelet"
# How long a request may wait for a connection before it is told the database is away.
CONNECT_TIMEOUT = 5.0
# `touched` of a write no other process keeps anything of in memory (a claim, a rule): its
# batch tells no one, so the outbox's polling doesn't make every process resync.
QUIET = -2

_STOP = object()


def unavailable(error: BaseException) -> Unavailable:
    failure = Unavailable(f"the database can't be reached right now ({error})")
    failure.__cause__ = error
    return failure


def is_lost(error: BaseException) -> bool:
    """A connection or server problem (retry later), not a statement PostgreSQL refused."""
    return isinstance(error, PoolTimeout | psycopg.OperationalError | psycopg.InterfaceError)


class Item:
    __slots__ = ("fn", "future", "on_commit", "touched")

    def __init__(
        self,
        fn: Write,
        future: asyncio.Future[Any],
        on_commit: OnCommit | None,
        touched: int | None,
    ) -> None:
        self.fn, self.future, self.on_commit, self.touched = fn, future, on_commit, touched


class Writer:
    def __init__(self, pool: AsyncConnectionPool[Any], process: str) -> None:
        self._pool = pool
        self._process = process
        self._queue: asyncio.Queue[Item | object] = asyncio.Queue()
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0
        self.transactions = 0  # moves as each transaction starts: what a write may memoize in
        self.last_error: str | None = None
        self.batch_sizes = [0] * len(BATCH_BUCKETS)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scorelet-writer")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def depth(self) -> int:
        """Writes waiting for their commit: queued, or in the batch being committed."""
        return self._waiting

    async def write(
        self,
        fn: Callable[[Connection], Awaitable[T]],
        on_commit: Callable[[T], None] | None = None,
        touched: int | None = None,
    ) -> T:
        """Queue `fn` and wait until its transaction has committed; `touched` names the
        touchpoint it changes (None: registry or several), for the other processes."""
        if not self.running:
            raise Unavailable("the database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting += 1
        try:
            self._queue.put_nowait(Item(fn, future, on_commit, touched))
            return await future
        finally:
            self._waiting -= 1

    async def stop(self) -> None:
        if self._task is None:
            return
        self._queue.put_nowait(_STOP)
        await self._task
        self._task = None

    async def _run(self) -> None:
        stopping = False
        while not stopping or not self._queue.empty():
            batch: list[Item] = []
            item = await self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, Item)
                    batch.append(item)
                if len(batch) >= MAX_BATCH or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[Item]) -> None:
        for attempt in (1, 2):
            try:
                outcomes = await self._together(batch)
                break
            except _Unknown as error:  # we can't tell whether it committed: not acknowledged
                self._fail(batch, error)
                return
            except Exception as error:
                if not is_lost(error):  # a statement refused: each write on its own
                    outcomes = [await self._alone(item) for item in batch]
                    break
                # Lost before COMMIT, so nothing was written. A server restart leaves every
                # pooled connection dead: drop them, and try once more on a new one.
                await self._pool.check()
                if attempt == 2 or isinstance(error, PoolTimeout):
                    self._fail(batch, error)
                    return
        self._settle(batch, outcomes)

    async def _together(self, batch: list[Item]) -> list[tuple[bool, Any]]:
        mark = secrets.token_hex(12)
        outcomes: list[tuple[bool, Any]] = []
        self.transactions += 1
        try:
            async with self._pool.connection(timeout=CONNECT_TIMEOUT) as conn:
                try:
                    # In a pipeline, a statement whose result nobody reads (an INSERT)
                    # costs no round trip of its own; a read waits for what came before.
                    async with conn.transaction(), conn.pipeline():
                        for item in batch:
                            try:
                                outcomes.append((True, await item.fn(conn)))
                            except StorageError as refused:  # raised before it changed anything
                                outcomes.append((False, refused))
                        await self._finish(conn, mark, batch)
                except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                    if len(outcomes) < len(batch):
                        raise  # lost before COMMIT: nothing was committed
                    raise _Unknown(mark, outcomes, error) from error
        except _Unknown as unknown:
            if await self._committed(unknown.mark):
                return unknown.outcomes
            raise
        return outcomes

    async def _alone(self, item: Item) -> tuple[bool, Any]:
        self.transactions += 1
        try:
            async with (
                self._pool.connection(timeout=CONNECT_TIMEOUT) as conn,
                conn.transaction(),
            ):
                result = await item.fn(conn)
                await self._finish(conn, secrets.token_hex(12), [item])
            return True, result
        except StorageError as refused:
            return False, refused
        except Exception as error:
            return False, unavailable(error) if is_lost(error) else error

    async def _finish(self, conn: Connection, mark: str, batch: list[Item]) -> None:
        """Leave the batch's mark and tell the other processes what changed."""
        touched = {item.touched for item in batch} - {QUIET}
        named = "" if None in touched else ",".join(sorted(str(t) for t in touched))
        await conn.execute(
            "INSERT INTO batch_marks (token, at) VALUES (%s, %s)", (mark, time.time())
        )
        if touched:
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self._process} {named}"))

    async def _committed(self, mark: str) -> bool:
        try:
            async with self._pool.connection(timeout=CONNECT_TIMEOUT) as conn:
                cursor = await conn.execute("SELECT 1 FROM batch_marks WHERE token = %s", (mark,))
                return await cursor.fetchone() is not None
        except Exception:  # still away: we can't know, so it's not acknowledged
            return False

    def _fail(self, batch: list[Item], error: BaseException) -> None:
        cause = error.error if isinstance(error, _Unknown) else error
        self.last_error = f"{type(cause).__name__}: {cause}"
        log.error("a batch of %d writes failed: %s", len(batch), self.last_error)
        for item in batch:
            if not item.future.done():
                item.future.set_exception(unavailable(cause))

    def _settle(self, batch: list[Item], outcomes: list[tuple[bool, Any]]) -> None:
        lost = [v for ok, v in outcomes if not ok and isinstance(v, Unavailable)]
        self.last_error = str(lost[0]) if lost else None
        self.batches += 1
        self.writes += len(batch)
        self.batch_sizes[bisect.bisect_left(BATCH_BUCKETS, len(batch))] += 1
        for item, (ok, value) in zip(batch, outcomes, strict=True):
            if ok and item.on_commit is not None:
                try:
                    item.on_commit(value)
                except Exception:  # a bookkeeping bug must not stop the writer
                    log.exception("after-commit hook failed")
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)


class _Unknown(Exception):
    """The connection was lost while the batch committed."""

    def __init__(self, mark: str, outcomes: list[tuple[bool, Any]], error: BaseException) -> None:
        super().__init__(str(error))
        self.mark, self.outcomes, self.error = mark, outcomes, error


async def read(pool: AsyncConnectionPool[Any], fn: Callable[[Connection], Awaitable[T]]) -> T:
    """`fn(conn)` in one read-only snapshot, so every query sees one instant."""
    try:
        async with pool.connection(timeout=CONNECT_TIMEOUT) as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return await fn(conn)
    except (PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError) as error:
        raise Unavailable(f"the database can't be read right now ({error})") from error
