"""The threads that own SQLite's connections: one writer, one reader.

The writer is the only connection that writes. It runs in a thread of its
own and takes whatever is queued as one batch, in one transaction (group
commit), then hands the whole batch's outcomes back to the event loop in one
call, which resolves each caller's future only then: an acknowledged write
is committed. While a batch commits the next one queues up, so the batch size
follows the load without any timer, and a batch costs one thread hop however
many writes it holds.

A write is a function of the connection and the batch's `Tx`; it must leave
the database as it found it if it raises (a single statement does; several
statements go inside `tx.atomic()`). One failing write doesn't sink the
others in its batch; a failing commit fails them all with `Unavailable`.

Rows a write adds for later (a rating's deliveries) may wait in `tx.later`
and go in as one statement per batch: every statement lets go of the GIL,
and the writer then waits for the event loop to hand it back, so a batch of
64 ratings with a notify rule costs one extra statement instead of 64.
They are written before the commit and before any write that was not queued
with `defers=True` (a promise not to read them), so every other write sees
them; if writing them fails, the whole batch fails.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from scorelet.store.errors import StorageError, Unavailable
from scorelet.store.interface import BATCH_BUCKETS

T = TypeVar("T")
log = logging.getLogger("scorelet.writer")
MAX_BATCH = BATCH_BUCKETS[-1]
_MAX_VARIABLES = 30_000  # SQLite's limit on a statement's parameters is 32,766
_STOP = object()


class _Whole:
    """What `Tx.whole()` returns: a class, not a generator, as it runs once per rating."""

    __slots__ = ("tx",)

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if error is not None:
            self.tx.broken = error


class Tx:
    """What a write sees of its batch: the connection, fresh sequence numbers, savepoints.

    Every stored change (a rating, a replaced or deleted version) takes the next
    number of one sequence, in commit order: folding rollups is "everything
    after the watermark". The sequence's top is read once per batch, inside
    the write lock, so a second process (the CLI) can never hand out the same.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._next: int | None = None
        self.memo: dict[str, Any] = {}  # what a batch's writes read once and share
        self._later: list[tuple[str, str, tuple[Any, ...]]] = []
        self.broken: BaseException | None = None  # rows for later that failed to go in
        self._whole = _Whole(self)

    def later(self, head: str, values: str, row: tuple[Any, ...]) -> None:
        """Add `row` with `head VALUES values, ...` when the batch's rows for later go in."""
        self._later.append((head, values, row))

    def whole(self) -> _Whole:
        """Statements that land together or, if one fails, fail the whole batch: for writes
        that are cheaper without a savepoint and fail only when the database does."""
        return self._whole

    def mark(self) -> int:
        return len(self._later)

    def undo(self, mark: int) -> None:
        """Forget the rows kept for later since `mark`: the write that kept them failed."""
        del self._later[mark:]

    def flush(self) -> None:
        """Write the rows kept for later now, a few hundred to a statement."""
        later, self._later = self._later, []
        grouped: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for head, values, row in later:
            grouped.setdefault((head, values), []).append(row)
        try:
            for (head, values), rows in grouped.items():
                step = max(1, _MAX_VARIABLES // len(rows[0]))
                for at in range(0, len(rows), step):
                    chunk = rows[at : at + step]
                    self.conn.execute(
                        f"{head} VALUES {', '.join(values for _ in chunk)}",
                        [value for row in chunk for value in row],
                    )
        except BaseException as error:  # the batch can't commit without them
            self.broken = error
            raise

    def seq(self) -> int:
        if self._next is None:
            top = self.conn.execute(
                "SELECT max(coalesce((SELECT max(seq) FROM responses), 0),"
                " coalesce((SELECT max(seq) FROM undone), 0),"
                " (SELECT watermark FROM fold_state))"
            ).fetchone()[0]
            self._next = top + 1
        value = self._next
        self._next = value + 1
        return value

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Several statements that land together or not at all."""
        self.conn.execute("SAVEPOINT write")
        mark = self.mark()
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO write")
            self.undo(mark)
            raise
        finally:
            self.conn.execute("RELEASE write")


Write = Callable[[sqlite3.Connection, Tx], Any]
OnCommit = Callable[[Any], None]
Item = tuple[Write, "asyncio.Future[Any]", OnCommit | None, bool]


def unavailable(error: BaseException) -> Unavailable:
    failure = Unavailable(f"the database can't take writes right now ({error})")
    failure.__cause__ = error
    return failure


class Writer:
    def __init__(self, conn: sqlite3.Connection, max_batch: int = MAX_BATCH) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Item | object] = queue.SimpleQueue()
        self._waiting = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future[None] | None = None
        self._accepting = False
        self.batches = 0
        self.writes = 0
        self.last_error: str | None = None  # why the last commit failed, until one succeeds
        self.batch_sizes = [0] * len(BATCH_BUCKETS)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="scorelet-writer", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._accepting and self._thread is not None and self._thread.is_alive()

    @property
    def depth(self) -> int:
        """Writes waiting for their commit: queued, or in the batch being committed."""
        return self._waiting

    async def write(
        self,
        fn: Callable[[sqlite3.Connection, Tx], T],
        on_commit: Callable[[T], None] | None = None,
        defers: bool = False,
    ) -> T:
        """Queue `fn` and wait until the transaction that ran it has committed.

        `on_commit(result)` runs on the event loop right after the commit, in
        commit order, before anyone sees the result: where the cache above
        storage hears about the change. `defers`: `fn` doesn't read the rows
        earlier writes keep for later (see the module's docstring).
        """
        if not self.running or self._loop is None:
            raise Unavailable("the database is closed")
        future: asyncio.Future[T] = self._loop.create_future()
        self._waiting += 1
        try:
            self._queue.put((fn, future, on_commit, defers))
            return await future
        finally:
            self._waiting -= 1

    async def stop(self) -> None:
        """Commit everything already queued, then stop the thread."""
        if self._thread is None or self._done is None:
            return
        self._accepting = False
        self._queue.put(_STOP)
        await self._done
        self._thread = None

    def _run(self) -> None:
        assert self._loop is not None
        stopping = False
        while not stopping:
            batch: list[Item] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                outcomes = self._apply(batch)
                self._loop.call_soon_threadsafe(self._settle, batch, outcomes)
        self._loop.call_soon_threadsafe(self._finished)

    def _finished(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _apply(self, batch: list[Item]) -> list[tuple[bool, Any]] | BaseException:
        conn = self._conn
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(conn)
            for fn, _, _, defers in batch:
                if not defers:
                    tx.flush()
                mark = tx.mark()
                try:
                    outcomes.append((True, fn(conn, tx)))
                except Exception as error:  # handed to its caller
                    tx.undo(mark)
                    outcomes.append((False, error))
                if tx.broken is not None:
                    raise tx.broken
            tx.flush()
            conn.execute("COMMIT")
        except Exception as error:  # the commit itself failed: nobody's write landed
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            return error
        return outcomes

    def _settle(self, batch: list[Item], outcomes: list[tuple[bool, Any]] | BaseException) -> None:
        if isinstance(outcomes, BaseException):
            self.last_error = f"{type(outcomes).__name__}: {outcomes}"
            log.error("a batch of %d writes failed to commit: %s", len(batch), self.last_error)
            for _, future, _, _ in batch:
                if not future.done():
                    future.set_exception(unavailable(outcomes))
            return
        trouble = [v for ok, v in outcomes if not ok and isinstance(v, sqlite3.OperationalError)]
        self.last_error = f"{type(trouble[0]).__name__}: {trouble[0]}" if trouble else None
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
            elif isinstance(value, StorageError):
                future.set_exception(value)
            elif isinstance(value, sqlite3.OperationalError | sqlite3.InterfaceError):
                future.set_exception(unavailable(value))
            else:
                future.set_exception(value)


class Reader:
    """A read-only connection in a thread of its own; each call is one consistent read."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorelet-reader")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` inside one read transaction, so every query sees one instant."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, partial(_in_transaction, self._conn, fn, *args)
            )
        except (sqlite3.OperationalError, sqlite3.InterfaceError) as error:
            raise Unavailable(f"the database can't be read right now ({error})") from error

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` outside a transaction (checkpoints)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, self._conn, *args))

    async def close(self) -> None:
        await self.run(lambda conn: conn.close())
        self._executor.shutdown(wait=True)


def _in_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("COMMIT")
