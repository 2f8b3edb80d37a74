"""The single writer: every write goes through one queue and one connection.

Writes are functions of a `sqlite3.Connection`. The writer takes whatever is
queued, runs the whole batch in the connection's thread in one transaction
(one savepoint per write, so one failing write doesn't sink the others),
commits, and only then resolves each caller's future: an acknowledged write
is on disk. While a batch commits, the next one queues up, so the batch size
follows the load (group commit) without any timer.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

from scorelet.errors import Problem

T = TypeVar("T")
log = logging.getLogger("scorelet.writer")
Write = Callable[[sqlite3.Connection], Any]
OnCommit = Callable[[Any], None]
Item = tuple[Write, "asyncio.Future[Any]", OnCommit | None, bool]
MAX_BATCH = 512
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, MAX_BATCH)


async def in_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(sqlite3_connection, *args)` in aiosqlite's thread in one hop.

    aiosqlite's public methods cost a thread round trip per statement; a batch
    of writes or a multi-query read is one function here instead. `_execute`
    is aiosqlite's own dispatch, stable across its releases; the tests cover it.
    """
    result: T = await conn._execute(fn, conn._conn, *args)  # type: ignore[no-untyped-call]
    return result


class Writer:
    def __init__(self, conn: aiosqlite.Connection, max_batch: int = MAX_BATCH) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0
        self.last_error: str | None = None  # why the last commit failed, until one succeeds
        # How many batches had at most BATCH_BUCKETS[i] writes (for /metrics).
        self.batch_sizes = [0] * len(BATCH_BUCKETS)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scorelet-writer")

    @property
    def healthy(self) -> bool:
        """Running, and its last commit (if any) succeeded."""
        return self._task is not None and not self._task.done() and self.last_error is None

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        on_commit: Callable[[T], None] | None = None,
        single_statement: bool = False,
    ) -> T:
        """Queue `fn` and wait until the transaction that ran it has committed.

        `on_commit(result)` runs in the writer task right after the commit, in
        commit order, before anyone sees the result: the place to keep
        in-memory copies exactly in step with the database.

        A write that changes the database with one statement at most (after any
        reads) may say `single_statement`: SQLite undoes a failed statement by
        itself, so it needs no savepoint, which saves a quarter of a rating's
        cost in the writer.
        """
        if self._task is None or self._task.done():
            raise RuntimeError("the writer is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((fn, future, on_commit, single_statement))
        return await future

    async def stop(self) -> None:
        """Commit everything already queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def _run(self) -> None:
        stopping = False
        # Writes queued while the last batch commits are still taken before stopping.
        while not stopping or not self._queue.empty():
            batch: list[Item] = []
            item = await self._queue.get()
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                if len(batch) >= self._max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[Item]) -> None:
        try:
            writes = [(fn, single) for fn, _, _, single in batch]
            outcomes = await in_thread(self._conn, _apply, writes)
        except Exception as error:  # the commit itself failed: nobody's write landed
            self.last_error = f"{type(error).__name__}: {error}"
            log.error("a batch of %d writes failed to commit: %s", len(batch), self.last_error)
            for _, future, _, _ in batch:
                if not future.done():
                    future.set_exception(unavailable(error))
            return
        storage = [v for ok, v in outcomes if not ok and isinstance(v, sqlite3.OperationalError)]
        self.last_error = f"{type(storage[0]).__name__}: {storage[0]}" if storage else None
        outcomes = [(ok, v if ok else unavailable(v)) for ok, v in outcomes]
        self.batches += 1
        self.writes += len(batch)
        self.batch_sizes[bisect.bisect_left(BATCH_BUCKETS, len(batch))] += 1
        for (_, future, on_commit, _), (ok, value) in zip(batch, outcomes, strict=True):
            if ok and on_commit is not None:
                try:
                    on_commit(value)
                except Exception:  # a bookkeeping bug must not stop the writer
                    log.exception("after-commit hook failed")
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def unavailable(error: Exception) -> Exception:
    """Storage trouble (disk full, I/O error) is the server's, not the client's: a 503."""
    if isinstance(error, sqlite3.OperationalError | sqlite3.InterfaceError):
        problem = Problem(
            503,
            "storage_unavailable",
            "the database can't take writes right now; nothing was stored, try again later",
            headers={"Retry-After": "5"},
        )
        problem.__cause__ = error
        return problem
    return error


def _apply(conn: sqlite3.Connection, writes: list[tuple[Write, bool]]) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn, single_statement in writes:
            if single_statement:
                try:
                    outcomes.append((True, fn(conn)))
                except Exception as error:
                    outcomes.append((False, error))
                continue
            conn.execute("SAVEPOINT write")
            try:
                outcomes.append((True, fn(conn)))
            except Exception as error:
                conn.execute("ROLLBACK TO write")
                outcomes.append((False, error))
            conn.execute("RELEASE write")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes
