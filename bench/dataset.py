"""Benchmark data: touchpoints, tokens and a read key, and a fast bulk path for ratings.

`Dataset.create` makes a fresh data directory through Scorelet's own `Store`
(schema, migrations, touchpoints, a read key). `bulk_fill` then appends
ratings straight into the SQLite file before a server opens it: it drops the
`responses` triggers and indexes, inserts the rows in key order with
`executemany`, derives the rollups for the new rows in
set-based SQL (the same rows the triggers would have written, which the
smoke test checks), and puts the triggers and indexes back. Ten million
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scorelet.config import DATABASE_FILE
from scorelet.store import Store
from scorelet.store.records import RESPONSE_COLUMNS
from scorelet.tokens import Signer

DAY = 86400
UPSERT = " ON CONFLICT DO UPDATE SET count = count + excluded.count"


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
    def create(cls, data_dir: Path, touchpoints: int, secret: str) -> Dataset:
        """A fresh data directory with `touchpoints` touchpoints (CSAT and NPS alternating)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_create(data_dir, touchpoints, secret))

    def rows(self) -> int:
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            count: int = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
            return count


async def _create(data_dir: Path, count: int, secret: str) -> Dataset:
    signer = Signer((secret,))
    store = await Store.open(data_dir / DATABASE_FILE, "normal")
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


def ratings(
    touchpoint: Touchpoint, start: int, count: int, spread: Spread, tally: Tally
) -> Iterator[tuple[Any, ...]]:
    """`count` ratings numbered from `start`, each with an agent, over the last days."""
    rng = random.Random(spread.seed + start)
    uniform, randrange = rng.random, rng.randrange
    now = time.time() if spread.now is None else spread.now
    agents, days = spread.agents, spread.days
    span = days * DAY
    high = 10 if touchpoint.metric == "nps" else 5
    low = 0 if touchpoint.metric == "nps" else 1
    contexts = context_values(agents)
    texts = [json.dumps(dict(pairs), separators=(",", ":")) for pairs in contexts]
    hourly, by_context = tally.hourly, tally.by_context
    for n in range(start, start + count):
        created = now - uniform() * span
        score = randrange(low, high + 1)
        context = randrange(len(texts))
        hour = int(created / 3600)
        hourly[hour, score] = hourly.get((hour, score), 0) + 1
        key = (context, int(created / 86400), score)
        by_context[key] = by_context.get(key, 0) + 1
        # UUID-shaped ids in ascending order, so the primary key is appended to, not split.
        yield (f"{n:08x}-0000-4000-8000-00000000be0c", touchpoint.id, score,
               None, None, texts[context], created, created)  # fmt: skip


def context_values(agents: int) -> list[tuple[tuple[str, str], ...]]:
    return [(("agent", f"agent-{a:03d}"),) for a in range(agents)]


@dataclass
class Tally:
    """What the generated ratings add to the rollups, counted as they are generated."""

    hourly: dict[tuple[int, int], int] = field(default_factory=dict)
    by_context: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def rollups(self, touchpoint_id: int) -> Iterator[tuple[int, int, int, int]]:
        daily: dict[tuple[int, int], int] = {}
        for (hour, score), count in self.hourly.items():
            # floor(floor(t / 3600) / 24) == floor(t / 86400) for any t >= 0.
            daily[hour // 24, score] = daily.get((hour // 24, score), 0) + count
        return iter(sorted((touchpoint_id, day, score, n) for (day, score), n in daily.items()))

    def hourly_rollups(self, touchpoint_id: int) -> Iterator[tuple[int, int, int, int]]:
        return iter(sorted((touchpoint_id, h, s, n) for (h, s), n in self.hourly.items()))

    def context_rollups(
        self, touchpoint_id: int, agents: int
    ) -> Iterator[tuple[int, str, str, int, int, int]]:
        contexts = context_values(agents)
        rows = [
            (touchpoint_id, key, value, day, score, count)
            for (context, day, score), count in self.by_context.items()
            for key, value in contexts[context]
        ]
        rows.sort()  # in primary-key order: appended, not scattered
        return iter(rows)


def _schema_objects(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(type, name, sql) of the triggers and explicit indexes on `responses`."""
    found = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'index')"
        " AND tbl_name = 'responses' AND sql IS NOT NULL"
    ).fetchall()
    return [(str(kind), str(name), str(sql)) for kind, name, sql in found]


def bulk_fill(
    dataset: Dataset, touchpoint: Touchpoint, count: int, spread: Spread = Spread()
) -> float:
    """Append `count` ratings to `touchpoint` with no server running; returns seconds taken."""
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(dataset.database, isolation_level=None)) as conn:
        # Nobody else has the file open: no journal, no fsync. Scorelet turns WAL back on.
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        conn.execute("PRAGMA temp_store = MEMORY")
        first = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        objects = _schema_objects(conn)
        conn.execute("BEGIN")
        try:
            for kind, name, _ in objects:
                conn.execute(f'DROP {kind.upper()} "{name}"')
            tally = Tally()
            conn.executemany(
                f"INSERT INTO responses ({RESPONSE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ratings(touchpoint, first, count, spread, tally),
            )
            tp = touchpoint.id
            conn.executemany(
                "INSERT INTO rollups (touchpoint_id, day, score, count) VALUES (?, ?, ?, ?)"
                + UPSERT,
                tally.rollups(tp),
            )
            conn.executemany(
                "INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)"
                " VALUES (?, ?, ?, ?)" + UPSERT,
                tally.hourly_rollups(tp),
            )
            conn.executemany(
                "INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)"
                " VALUES (?, ?, ?, ?, ?, ?)" + UPSERT,
                tally.context_rollups(tp, spread.agents),
            )
            for _kind, _, sql in sorted(objects, key=lambda o: o[0] != "index"):
                conn.execute(sql)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA journal_mode = WAL")
    return time.perf_counter() - started


def trigger_fill(
    dataset: Dataset, touchpoint: Touchpoint, count: int, spread: Spread = Spread()
) -> None:
    """The slow, obviously right path: plain inserts that fire the schema's triggers."""
    with contextlib.closing(sqlite3.connect(dataset.database, isolation_level=None)) as conn:
        first = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO responses ({RESPONSE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ratings(touchpoint, first, count, spread, Tally()),
        )
        conn.execute("COMMIT")


def derived_tables(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the triggers maintain, for comparing the bulk path with the trigger path."""
    queries = {
        "rollups": "SELECT * FROM rollups WHERE count != 0",
        "hourly_rollups": "SELECT * FROM hourly_rollups WHERE count != 0",
        "context_rollups": "SELECT * FROM context_rollups WHERE count != 0",
        "context_totals": "SELECT * FROM context_totals WHERE count != 0",
    }
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return {name: sorted(conn.execute(sql).fetchall()) for name, sql in queries.items()}
