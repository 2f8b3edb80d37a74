"""Opening a real store on each storage backend, for the contract tests and process tests.

Tests that check what storage did go through `Store` (the storage interface),
never through a backend's SQL, so every backend runs the same tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from postgres import URL_FILE, database_for
from scorelet.config import Settings, resolve_secrets
from scorelet.store import Response, ResponseQuery, Store
from scorelet.store.interface import Backend, RollupCheck
from scorelet.store.postgres.backend import PostgresBackend, database_secrets
from scorelet.store.sqlite.backend import SqliteBackend

BACKENDS = ("sqlite", "postgres")


async def open_store(kind: str, directory: Path, clock: Callable[[], float] = time.time) -> Store:
    """A store on a fresh (or existing) database of `kind` that belongs to `directory`."""
    backend: Backend
    if kind == "sqlite":
        backend = await SqliteBackend.open(directory / "scorelet.sqlite3")
    elif kind == "postgres":
        backend = await PostgresBackend.open(database_for(directory))
    else:
        raise ValueError(f"unknown backend {kind!r}")
    store = Store(backend, clock)
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


def database_env(kind: str, directory: Path) -> dict[str, str]:
    """The environment that points `scorelet` at `directory`'s database of `kind`."""
    return {"SCORELET_DATABASE_URL": database_for(directory)} if kind == "postgres" else {}


def database_args(kind: str, directory: Path) -> list[str]:
    """`scorelet` options that point it at `directory`'s database of `kind`."""
    return ["--data", str(directory)] + (
        ["--database", database_for(directory)] if kind == "postgres" else []
    )


def kind_of(directory: Path) -> str:
    """Which backend a data directory's database is on (a PostgreSQL one left its URL)."""
    return "postgres" if (directory / URL_FILE).exists() else "sqlite"


def init_directory(directory: Path, kind: str) -> Path:
    """A data directory as `scorelet init --no-demos` leaves it, on a database of `kind`;
    `database_args(kind_of(directory), directory)` points commands at it."""
    from scorelet.cli import main

    if kind == "postgres":
        database_for(directory)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", "--no-demos", *database_args(kind, directory)]) == 0
    return directory


def signing_secrets(directory: Path) -> tuple[str, ...]:
    """The secrets a data directory's commands sign with (a PostgreSQL one's are in it)."""
    if kind_of(directory) == "postgres":
        return asyncio.run(database_secrets(database_for(directory)))
    return resolve_secrets(Settings(data_dir=directory)).secrets


def read_contents(directory: Path, kind: str = "sqlite") -> Contents:
    """What a data directory's database holds, read through the store as a new process would."""

    async def read() -> Contents:
        store = await open_store(kind, directory)
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


def load(directory: Path, slug: str, ratings: Iterable[Given], kind: str = "sqlite") -> int:
    """Store ratings at chosen moments through the storage interface (as an import does);
    a server on the same database picks them up within a second, or at once for a new key."""

    async def run() -> int:
        store = await open_store(kind, directory)
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
