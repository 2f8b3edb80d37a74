"""The floor: the least a durable ingest endpoint can do on this stack.

A bare ASGI app (no Starlette) under the same uvicorn settings as `scorelet
serve`. `POST /api/v1/responses` parses the JSON body, queues one row, and
answers 201 only after the row's batch has committed: one writer thread,
group commit (the whole queue per transaction), one table with no index, no
trigger, no token check, no validation, no rollups, a fixed answer. It is
not a product; it is what any rating service that keeps its
acknowledgements must at least pay, measured in the same run as the no-op.
If the floor itself sits near a target ratio, no real request path can
reach that target on this machine (see bench/README.md).

With `schema`, the same floor writes into Scorelet's own schema instead
(its migrations: the change sequence, the id and time indexes; rollups are
folded later, in batches), one row per rating as Scorelet stores it: what
storing a rating the way Scorelet's reads need it costs, before any token
check, validation or answer.

    python bench/floor.py PORT DATABASE [full|normal] [bare|schema]
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import sys
import threading
import time
from typing import Any

from noop import serve

from scorelet.store.records import time_ordered_id
from scorelet.store.sqlite.schema import migrate

Row = tuple[Any, ...]
TOUCHPOINTS = 50
ANSWER = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


class Floor:
    def __init__(self, database: str, synchronous: str, schema: bool) -> None:
        self.database = database
        self.synchronous = synchronous
        self.schema = schema
        self.pending: list[tuple[Row, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.seq = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        data = json.loads(body)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        context, now = json.dumps(data.get("context")), time.time()
        if self.schema:  # as Scorelet stores it: seq, id, touchpoint, score, comment ...
            touchpoint = 1 + hash(data["token"]) % TOUCHPOINTS
            self.seq += 1
            row: Row = (
                self.seq,
                time_ordered_id(now),
                touchpoint,
                data["score"],
                None,
                None,
                context,
                data.get("client"),
                now,
                now,
            )
        else:
            row = (data["score"], context, now)
        self.pending.append((row, done))
        self.wake.set()
        await done
        await send({"type": "http.response.start", "status": 201, "headers": HEADERS})
        await send({"type": "http.response.body", "body": ANSWER})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.open()
                self.writer = asyncio.create_task(self.write())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                assert self.writer is not None
                self.writer.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def open(self) -> None:
        self.conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        if self.schema:
            migrate(self.conn)
            self.conn.executemany(
                "INSERT INTO touchpoints (slug, metric, scale, created_at, updated_at)"
                " VALUES (?, 'csat', 'stars', 0, 0)",
                [(f"floor-{n}",) for n in range(TOUCHPOINTS)],
            )
            self.insert = (
                "INSERT INTO responses (seq, id, touchpoint_id, score, comment, subject, context,"
                " client, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            self.seq = self.conn.execute("SELECT coalesce(max(seq), 0) FROM responses").fetchone()[
                0
            ]
        else:
            self.conn.execute("CREATE TABLE IF NOT EXISTS responses (score, context, created_at)")
            self.insert = "INSERT INTO responses VALUES (?, ?, ?)"

    async def write(self) -> None:
        """Group commit: take everything queued, commit it in the writer thread, then ack."""
        loop = asyncio.get_running_loop()
        jobs: queue.SimpleQueue[tuple[list[Row], asyncio.Future[None]]] = queue.SimpleQueue()
        threading.Thread(target=self.commit, args=(loop, jobs), daemon=True).start()
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.pending = self.pending, []
            done: asyncio.Future[None] = loop.create_future()
            jobs.put(([row for row, _ in batch], done))
            await done
            for _, future in batch:
                future.set_result(None)

    def commit(self, loop: asyncio.AbstractEventLoop, jobs: queue.SimpleQueue[Any]) -> None:
        while True:
            rows, done = jobs.get()
            self.conn.execute("BEGIN")
            self.conn.executemany(self.insert, rows)
            self.conn.execute("COMMIT")
            loop.call_soon_threadsafe(done.set_result, None)


if __name__ == "__main__":
    port, database, synchronous, kind = [*sys.argv[1:], "full", "bare"][:4]
    serve(Floor(database, synchronous, kind == "schema"), int(port))
