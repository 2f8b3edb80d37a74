"""Opening a real store on each storage backend, for the contract tests and process tests.

Tests that check what storage did go through `Store` (the storage interface),
never through a backend's SQL, so every backend runs the same tests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scorelet.store import Response, ResponseQuery, Store
from scorelet.store.interface import RollupCheck
from scorelet.store.sqlite.backend import SqliteBackend

BACKENDS = ("sqlite",)


async def open_store(kind: str, directory: Path, clock: Callable[[], float] = time.time) -> Store:
    """A store on a fresh (or existing) database of `kind` kept under `directory`."""
    if kind != "sqlite":
        raise ValueError(f"unknown backend {kind!r}")
    store = Store(await SqliteBackend.open(directory / "scorelet.sqlite3"), clock)
    await store.load()
    return store


@dataclass(frozen=True)
class Contents:
    """Every rating (id -> score), the rollups' agreement with a recount, and how many
    changes were not folded yet when it was read."""

    scores: dict[str, int]
    check: RollupCheck
    unfolded: int


async def contents(store: Store) -> Contents:
    unfolded = await store.unfolded()
    scores: dict[str, int] = {}
    for touchpoint in store.touchpoints():
        async for page in store.iter_responses(ResponseQuery(touchpoint.id)):
            scores |= {response.id: response.score for response in page}
    return Contents(scores, await store.recount(), unfolded)


def read_contents(database: Path) -> Contents:
    """What an SQLite data directory holds, read through the store as a new process would."""

    async def read() -> Contents:
        store = await open_store("sqlite", database.parent)
        try:
            return await contents(store)
        finally:
            await store.close()

    return asyncio.run(read())


@dataclass(frozen=True)
class Given:
    """A rating as it was given at some moment, for loading test data."""

    at: float
    score: int
    context: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    subject: str | None = None
    id: str | None = None


def load(database: Path, slug: str, ratings: Iterable[Given]) -> int:
    """Store ratings at chosen moments through the storage interface (as an import does);
    a server on the same file picks them up within a second, or at once for a new key."""

    async def run() -> int:
        store = await open_store("sqlite", database.parent)
        try:
            touchpoint = store.touchpoint(slug)
            assert touchpoint is not None, slug
            return await store.import_ratings(
                [
                    Response(
                        given.id or str(uuid.uuid4()),
                        touchpoint.id,
                        given.score,
                        given.comment,
                        given.subject,
                        given.context,
                        given.at,
                        given.at,
                    )
                    for given in ratings
                ]
            )
        finally:
            await store.close()

    return asyncio.run(run())
