"""Benchmark data: touchpoints, tokens and a read key, and a fast bulk path for ratings.

`Dataset.create` makes a fresh data directory through Scorelet's own `Store`
(schema, migrations, touchpoints, a read key). `bulk_fill` then appends
ratings straight into the SQLite file before a server opens it: it drops the
`responses` indexes, inserts the rows in key order with `executemany`, folds
them with the one rollup rule (`scorelet.rollups.Deltas`, as the live fold
does) into the rollups, marks them folded, and puts the indexes back.
`import_fill` is the slow, obviously right path (the store's own import and
fold); the smoke test checks that both leave the same rollups. Ten million
ratings take minutes this way instead of the better part of an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scorelet.config import DATABASE_FILE
from scorelet.rollups import Counted, Deltas
from scorelet.store import Response, Store
from scorelet.store.sqlite import fold
from scorelet.tokens import Signer

DAY = 86400
INSERT = (
    "INSERT INTO responses (seq, id, touchpoint_id, score, comment, subject, context, client,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class Touchpoint:
    id: int
    slug: str
    metric: str
    token: str


@dataclass(frozen=True)
class Dataset:
    data_dir: Path
    touchpoints: list[Touchpoint]
    read_key: str

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @classmethod
    def create(
        cls, data_dir: Path, touchpoints: int, secret: str, database_url: str | None = None
    ) -> Dataset:
        """A fresh data directory with `touchpoints` touchpoints (CSAT and NPS alternating),
        in its SQLite file or in the PostgreSQL database at `database_url`."""
        data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_create(data_dir, touchpoints, secret, database_url))

    def rows(self) -> int:
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            count: int = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
            return count


async def _create(data_dir: Path, count: int, secret: str, database_url: str | None) -> Dataset:
    signer = Signer((secret,))
    store = await Store.open(database_url or data_dir / DATABASE_FILE, "normal")
    try:
        made = []
        for n in range(count):
            nps = n % 2 == 1
            fields: dict[str, Any] = {
                "slug": f"touchpoint-{n:03d}",
                "metric": "nps" if nps else "csat",
                "scale": "nps" if nps else "stars",
                "satisfied_from": None if nps else 4,  # the API's default for stars
            }
            tp = await store.create_touchpoint(fields)
            token = signer.mint_embed(tp.slug, tp.token_version)
            made.append(Touchpoint(tp.id, tp.slug, tp.metric, token))
        _, key = await store.create_api_key("read", "bench")
    finally:
        await store.close()
    return Dataset(data_dir, made, key)


@dataclass(frozen=True)
class Spread:
    """How generated ratings vary: over how many agents, over how many days before `now`."""

    agents: int = 100
    days: int = 365
    seed: int = 8812
    now: float | None = None


def ratings(touchpoint: Touchpoint, start: int, count: int, spread: Spread) -> Iterator[Response]:
    """`count` ratings numbered from `start`, each with an agent, over the last days."""
    rng = random.Random(spread.seed + start)
    uniform, randrange = rng.random, rng.randrange
    now = time.time() if spread.now is None else spread.now
    span = spread.days * DAY
    high = 10 if touchpoint.metric == "nps" else 5
    low = 0 if touchpoint.metric == "nps" else 1
    contexts = [dict(pairs) for pairs in context_values(spread.agents)]
    for n in range(start, start + count):
        created = now - uniform() * span
        # UUID-shaped ids in ascending order, so the id index is appended to, not split.
        yield Response(
            f"{n:08x}-0000-4000-8000-00000000be0c",
            touchpoint.id,
            randrange(low, high + 1),
            None,
            None,
            contexts[randrange(len(contexts))],
            created,
            created,
        )


def context_values(agents: int) -> list[tuple[tuple[str, str], ...]]:
    return [(("agent", f"agent-{a:03d}"),) for a in range(agents)]


def _indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, sql) of the explicit indexes on `responses`."""
    found = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        " AND tbl_name = 'responses' AND sql IS NOT NULL"
    ).fetchall()
    return [(str(name), str(sql)) for name, sql in found]


def bulk_fill(
    dataset: Dataset, touchpoint: Touchpoint, count: int, spread: Spread = Spread()
) -> float:
    """Append `count` folded ratings to `touchpoint` with no server running; returns seconds."""
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(dataset.database, isolation_level=None)) as conn:
        # Nobody else has the file open: no journal, no fsync. Scorelet turns WAL back on.
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        conn.execute("PRAGMA temp_store = MEMORY")
        first = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM responses").fetchone()[0]
        watermark = conn.execute("SELECT watermark FROM fold_state").fetchone()[0]
        assert watermark >= top, "bulk_fill needs every earlier rating folded"
        indexes = _indexes(conn)
        deltas = Deltas()

        def rows() -> Iterator[tuple[Any, ...]]:
            for seq, rating in enumerate(ratings(touchpoint, first, count, spread), watermark + 1):
                deltas.add(
                    Counted(rating.touchpoint_id, rating.created_at, rating.score, rating.context)
                )
                context = json.dumps(rating.context, separators=(",", ":"))
                yield (seq, rating.id, rating.touchpoint_id, rating.score, None, None, context,
                       None, rating.created_at, rating.updated_at)  # fmt: skip

        conn.execute("BEGIN")
        try:
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            conn.executemany(INSERT, rows())
            for name, part in zip(fold.PARTS, deltas.nonzero().parts(), strict=True):
                conn.executemany(fold.UPSERTS[name], [(*key, n) for key, n in sorted(part.items())])
            conn.execute("UPDATE fold_state SET watermark = ?", (watermark + count,))
            for _, sql in indexes:
                conn.execute(sql)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA journal_mode = WAL")
    return time.perf_counter() - started


def import_fill(
    dataset: Dataset, touchpoint: Touchpoint, count: int, spread: Spread = Spread()
) -> None:
    """The slow, obviously right path: the store's own import, then its own fold."""

    async def run() -> None:
        store = await Store.open(dataset.database, "normal")
        try:
            first = dataset.rows()
            await store.import_ratings(list(ratings(touchpoint, first, count, spread)))
        finally:
            await store.close()  # folds

    asyncio.run(run())


def derived_tables(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row, for comparing the bulk path with the import path."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return {
            name: sorted(row for row in conn.execute(sql).fetchall() if row[-1])
            for name, sql in fold.STORED.items()
        }
