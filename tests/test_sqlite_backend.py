"""The SQLite backend's own affairs: schema, migrations, PRAGMAs, folding, failures.

The only tests that open the database file themselves; everything a backend
must do alike is in test_store_contract.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from backends import open_store
from scorelet.routing.destinations import NewDestination
from scorelet.routing.rules import parse_rule
from scorelet.store import NewResponse, Store, Unavailable
from scorelet.store.sqlite import fold
from scorelet.store.sqlite.backend import JOURNAL_SIZE_LIMIT, SqliteBackend
from scorelet.store.sqlite.schema import MIGRATIONS, _statements, migrate, schema_version
from scorelet.touchpoints import Touchpoint, new_touchpoint_fields

T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "scorelet.sqlite3"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store("sqlite", tmp_path)
    try:
        yield store
    finally:
        await store.close()


def raw(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Query the file on a fresh connection, as another process would."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def add_touchpoint(store: Store, slug: str = "checkout") -> Touchpoint:
    return await store.create_touchpoint(new_touchpoint_fields({"slug": slug, "metric": "csat"}))


def backend(store: Store) -> SqliteBackend:
    assert isinstance(store.backend, SqliteBackend)
    return store.backend


# -- schema ------------------------------------------------------------------------------------


async def test_open_creates_the_schema_in_wal_mode(store: Store, path: Path) -> None:
    assert raw(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"touchpoints", "responses", "undone", "fold_state", "score_totals"} <= tables
    assert raw(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'") == [(0,)]


def test_migrating_twice_is_a_no_op(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn) == list(range(1, len(MIGRATIONS) + 1))
        schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        assert migrate(conn) == []
        assert schema_version(conn) == len(MIGRATIONS)
        assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    finally:
        conn.close()


async def test_a_database_newer_than_the_code_is_refused(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await SqliteBackend.open(path)


async def test_an_unknown_synchronous_mode_is_refused(path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        await SqliteBackend.open(path, synchronous="off")


async def test_the_wal_is_cut_back_after_a_burst(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    await asyncio.gather(
        *(
            store.record_response(NewResponse(touchpoint.id, 5, "x" * 1500, None))
            for _ in range(10_000)
        )
    )
    wal = path.with_name(path.name + "-wal")
    peak = wal.stat().st_size
    await store.maintain()  # the checkpoint resets the WAL; the next write truncates it
    await store.record_response(NewResponse(touchpoint.id, 4, None, None))
    assert peak > JOURNAL_SIZE_LIMIT
    assert wal.stat().st_size <= JOURNAL_SIZE_LIMIT


# -- a rating's transaction writes the rating, not the rollups ----------------------------------


async def test_a_rating_touches_no_rollup_until_the_fold(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(NewResponse(touchpoint.id, 5, None, None, {"agent": "a"}))
    for table in ("rollups", "hourly_rollups", "context_rollups", "context_totals", "score_totals"):
        assert raw(path, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert await backend(store).fold() == 1
    assert raw(path, "SELECT score, count FROM score_totals") == [(5, 1)]
    assert raw(path, "SELECT key, value, count FROM context_totals") == [("agent", "a", 1)]
    (mark,) = raw(path, "SELECT watermark FROM fold_state")[0]
    assert raw(path, "SELECT max(seq) FROM responses") == [(mark,)]


async def test_a_fold_upserts_each_key_once_and_keeps_only_unfolded_undos(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    rated = [
        await store.record_response(NewResponse(touchpoint.id, 1 + i % 5, None, f"s{i}"))
        for i in range(50)
    ]
    await backend(store).fold()
    for made in rated[:10]:  # replace some folded ratings: their undos wait for the next fold
        await store.record_response(NewResponse(touchpoint.id, 5, None, made.response.subject))
    assert raw(path, "SELECT count(*) FROM undone") == [(10,)]
    pending = await backend(store)._reader.read(fold.collect)
    assert pending.changes == 20
    # Ten versions scored 1-5 twice each come out; ten fives go in.
    expected = {(touchpoint.id, score): -2 for score in range(1, 6)}
    expected[touchpoint.id, 5] += 10
    assert dict(pending.deltas.totals) == expected
    await backend(store).fold()
    assert raw(path, "SELECT count(*) FROM undone") == [(0,)]
    assert (await store.recount()).equal


async def test_a_fold_computed_before_another_is_dropped(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(NewResponse(touchpoint.id, 4, None, None))
    sqlite = backend(store)
    stale = await sqlite._reader.read(fold.collect)
    assert await sqlite.fold() == 1
    assert await sqlite._writer.write(partial(fold.apply, pending=stale)) is False
    assert (await store.recount()).equal


async def test_a_backlog_is_folded_in_bounded_steps(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await asyncio.gather(
        *(store.record_response(NewResponse(touchpoint.id, 3, None, None)) for _ in range(250))
    )
    folding = backend(store)
    folding.fold_limit = 100
    before = folding.health().writes
    assert await folding.fold() == 250
    assert folding.health().writes - before == 3, "steps of 100, 100 and 50"
    assert await store.unfolded() == 0
    assert (await store.recount()).equal


# -- failures ----------------------------------------------------------------------------------


async def test_a_full_disk_is_unavailable_and_marks_health(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(NewResponse(touchpoint.id, 5, None, None))
    writer = backend(store)._writer
    pages = await writer.write(lambda conn, tx: conn.execute("PRAGMA page_count").fetchone()[0])
    # SQLite's own limit on the file's size, as a full disk would have it.
    await writer.write(lambda conn, tx: conn.execute(f"PRAGMA max_page_count = {pages}"))
    with pytest.raises(Unavailable):
        await store.record_response(NewResponse(touchpoint.id, 4, "x" * 20000, None))
    assert not store.health().ok
    await writer.write(lambda conn, tx: conn.execute("PRAGMA max_page_count = 1073741823"))
    await store.record_response(NewResponse(touchpoint.id, 4, None, None))
    assert store.health().ok
    assert store.totals(touchpoint.id)[0] == {5: 1, 4: 1}


async def test_a_failed_write_leaves_nothing_in_its_batch(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    ghost = NewResponse(touchpoint.id + 1000, 5, None, None, {"agent": "a"})  # no such touchpoint
    results = await asyncio.gather(
        store.record_response(NewResponse(touchpoint.id, 4, None, None)),
        store.record_response(ghost),
        store.record_response(NewResponse(touchpoint.id, 2, None, None)),
        return_exceptions=True,
    )
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert raw(path, "SELECT score FROM responses ORDER BY score") == [(2,), (4,)]
    assert store.totals(touchpoint.id)[0] == {4: 1, 2: 1}


async def test_a_replacement_that_fails_half_way_leaves_no_undo(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(NewResponse(touchpoint.id, 4, None, "conv"))
    await backend(store).fold()
    writer = backend(store)._writer
    await writer.write(
        lambda conn, tx: conn.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON responses BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    )
    with pytest.raises(sqlite3.IntegrityError):
        await store.record_response(NewResponse(touchpoint.id, 1, None, "conv"))
    await writer.write(lambda conn, tx: conn.execute("DROP TRIGGER refuse"))
    assert raw(path, "SELECT count(*) FROM undone") == [(0,)]
    assert (await store.recount()).equal


# -- rows a batch keeps for later ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def one_batch(store: Store) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Hold the writer inside a write of its own until the block ends, so everything queued
    meanwhile goes into the next batch together; `queued(n)` waits until n writes wait."""
    writer = backend(store)._writer
    entered, gate = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection, tx: Any) -> None:
        entered.set()
        gate.wait(30)

    held = asyncio.create_task(writer.write(hold))
    await asyncio.to_thread(entered.wait, 30)

    async def queued(n: int) -> None:
        # The held write counts while it commits. (No event tells of a write being queued.)
        while writer.depth < n + 1:  # noqa: ASYNC110
            await asyncio.sleep(0)

    try:
        yield queued
    finally:
        gate.set()
        await held


async def test_a_write_waiting_for_its_commit_counts_while_its_batch_commits(
    store: Store,
) -> None:
    writer = backend(store)._writer
    assert writer.depth == 0
    async with one_batch(store) as queued:
        assert writer.depth == 1  # taken into a batch already, not committed
        await queued(0)
    assert writer.depth == 0


async def notify_every_rating(store: Store, wait: str = "0s") -> None:
    await store.create_destination(NewDestination("hook", "webhook", "https://hooks.example/x"))
    await store.create_rule(
        parse_rule({"name": "every", "notify": ["hook"], "wait_for_comment": wait})
    )


async def test_a_comment_in_its_ratings_batch_releases_the_delivery_held_for_it(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    await notify_every_rating(store, wait="5m")
    batches = backend(store)._writer.batches
    async with one_batch(store) as queued:
        first = asyncio.create_task(
            store.record_response(NewResponse(touchpoint.id, 2, None, "conv-1"))
        )
        await queued(1)
        again = asyncio.create_task(
            store.record_response(NewResponse(touchpoint.id, 1, "slow reply", "conv-1"))
        )
        await queued(2)
    await asyncio.gather(first, again)
    assert backend(store)._writer.batches == batches + 2  # the held write's, then both
    # The first rating's delivery was still kept for the batch's end when the second came:
    # releasing it had to write it first, or it would wait the five minutes.
    assert raw(path, "SELECT event, held FROM deliveries") == [("created", 0)]


async def test_rows_kept_by_a_write_that_fails_are_not_written(store: Store, path: Path) -> None:
    writer = backend(store)._writer
    await writer.write(lambda conn, tx: conn.execute("CREATE TABLE kept (v INTEGER)"))

    def keep(value: int, fail: bool, conn: sqlite3.Connection, tx: Any) -> None:
        tx.later("INSERT INTO kept (v)", "(?)", (value,))
        if fail:
            raise ValueError("this write fails after keeping a row")

    async with one_batch(store) as queued:
        writes = [asyncio.create_task(writer.write(partial(keep, 1, False), defers=True))]
        await queued(1)
        writes.append(asyncio.create_task(writer.write(partial(keep, 2, True), defers=True)))
        await queued(2)
        writes.append(asyncio.create_task(writer.write(partial(keep, 3, False), defers=True)))
        await queued(3)
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert raw(path, "SELECT v FROM kept ORDER BY v") == [(1,), (3,)]


async def test_deliveries_that_fail_to_go_in_fail_their_whole_batch(
    store: Store, path: Path
) -> None:
    """A rating is acknowledged only with its deliveries: if they can't be written at the
    batch's end, no rating of the batch lands and every one of them is told so."""
    touchpoint = await add_touchpoint(store)
    await notify_every_rating(store)
    writer = backend(store)._writer
    await writer.write(
        lambda conn, tx: conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    )
    async with one_batch(store) as queued:
        ratings = [
            asyncio.create_task(store.record_response(NewResponse(touchpoint.id, s, None, None)))
            for s in (1, 2)
        ]
        await queued(2)
    results = await asyncio.gather(*ratings, return_exceptions=True)
    assert all(isinstance(result, Unavailable) for result in results)
    assert raw(path, "SELECT count(*) FROM responses") == [(0,)]
    await writer.write(lambda conn, tx: conn.execute("DROP TRIGGER refuse"))
    await store.record_response(NewResponse(touchpoint.id, 3, None, None))
    assert raw(path, "SELECT count(*) FROM responses, deliveries") == [(1,)]


# -- migrating today's databases ----------------------------------------------------------------


def subject(i: int) -> str | None:
    return f"s{i}" if i % 5 == 0 else None


def _old_database(path: Path, version: int) -> sqlite3.Connection:
    """A database as Scorelet left it at schema `version` (triggers and all)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        conn.execute("BEGIN")
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    return conn


async def test_a_populated_v5_database_migrates_with_every_rating_and_count(path: Path) -> None:
    conn = _old_database(path, 5)
    rng = random.Random(5)
    for slug in ("checkout", "support"):
        conn.execute(
            "INSERT INTO touchpoints (slug, metric, scale, created_at, updated_at)"
            " VALUES (?, 'csat', 'stars', 0, 0)",
            (slug,),
        )
    ids = []
    for i in range(400):  # written as v5 did: the triggers keep the rollups
        response_id = str(uuid.uuid4())
        when = T0 + rng.uniform(-5, 5) * 86400
        context = json.dumps({"agent": rng.choice("abc")}) if i % 3 else "{}"
        conn.execute(
            "INSERT INTO responses (id, touchpoint_id, score, subject, context, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (response_id, 1 + i % 2, rng.randint(1, 5), subject(i), context, when, when),
        )
        ids.append(response_id)
    for response_id in ids[:40]:  # changes of mind and deletions, through the old triggers
        conn.execute("UPDATE responses SET score = 6 - score WHERE id = ?", (response_id,))
    for response_id in ids[40:60]:
        conn.execute("DELETE FROM responses WHERE id = ?", (response_id,))
    before = conn.execute(
        "SELECT id, touchpoint_id, score, comment, subject, context, created_at FROM responses"
        " ORDER BY id"
    ).fetchall()
    daily = conn.execute(
        "SELECT touchpoint_id, day, score, count FROM rollups WHERE count != 0"
    ).fetchall()
    conn.close()

    store = await open_store("sqlite", path.parent)
    try:
        assert raw(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
        after = raw(
            path,
            "SELECT id, touchpoint_id, score, comment, subject, context, created_at FROM responses"
            " ORDER BY id",
        )
        assert after == before
        assert (await store.recount()).equal
        assert (
            raw(path, "SELECT touchpoint_id, day, score, count FROM rollups WHERE count != 0")
            == daily
        )
        for touchpoint_id in (1, 2):
            expected: dict[int, int] = {}
            for row in before:
                if row[1] == touchpoint_id:
                    expected[row[2]] = expected.get(row[2], 0) + 1
            assert store.totals(touchpoint_id)[0] == expected
            window = (T0 - 2.5 * 86400, T0 + 1.7 * 86400)
            inside = [r for r in before if r[1] == touchpoint_id and window[0] <= r[6] < window[1]]
            counts, _ = await store.counts(touchpoint_id, *window)
            assert sum(counts.values()) == len(inside)
        made = await store.record_response(NewResponse(1, 5, None, None))
        assert made.created
        assert (await store.recount()).equal
    finally:
        await store.close()


async def test_migration_11_keeps_every_delivery_and_claims_them_as_before(path: Path) -> None:
    conn = _old_database(path, 10)
    conn.execute(
        "INSERT INTO destinations (name, kind, url, secret, created_at, disabled_at)"
        " VALUES ('on', 'webhook', 'https://h.example/a', 'whsec_x', 0, NULL),"
        " ('off', 'webhook', 'https://h.example/b', 'whsec_y', 0, 1)"
    )
    rows = [
        (str(uuid.uuid4()), 1 + i % 2, "digest", None, None, None, f'{{"n":{i}}}',
         ("pending", "failed", "delivered", "dead")[i % 4], 0, i % 3, T0 + i, None,
         500 if i % 4 == 1 else None, "boom" if i % 4 == 1 else None, T0, T0 + i)
        for i in range(40)
    ]  # fmt: skip
    conn.executemany(f"INSERT INTO deliveries VALUES ({', '.join('?' * 16)})", rows)
    conn.close()
    store = await open_store("sqlite", path.parent)
    try:
        assert raw(path, "SELECT * FROM deliveries ORDER BY id") == sorted(rows)
        (claimable,) = raw(
            path,
            "SELECT count(*) FROM deliveries WHERE destination_id = 1"
            " AND state IN ('pending', 'failed')",
        )
        claimed = await store.claim_deliveries(100, 30)
        assert len(claimed) == claimable[0] > 0
        assert {c.destination.name for c in claimed} == {"on"}
    finally:
        await store.close()


def test_migration_2_backfills_hourly_and_context_rollups(path: Path) -> None:
    conn = _old_database(path, 1)
    conn.execute(
        "INSERT INTO touchpoints (slug, metric, scale, created_at, updated_at)"
        " VALUES ('old', 'csat', 'stars', 0, 0)"
    )
    rows = [
        (str(uuid.uuid4()), 1, 1 + i % 5, f'{{"agent":"a{i % 2}"}}', T0 + i * 977)
        for i in range(50)
    ]
    conn.executemany(
        "INSERT INTO responses (id, touchpoint_id, score, context, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(*row, row[-1]) for row in rows],
    )
    assert migrate(conn) == list(range(2, len(MIGRATIONS) + 1))
    hourly = dict(
        conn.execute("SELECT score, sum(count) FROM hourly_rollups GROUP BY 1").fetchall()
    )
    per_agent = conn.execute(
        "SELECT sum(count) FROM context_rollups WHERE key = 'agent'"
    ).fetchone()
    conn.close()
    assert hourly == {s: 10 for s in range(1, 6)}
    assert per_agent == (50,)


def test_migration_7_writes_down_the_answered_impressions_it_estimates(path: Path) -> None:
    conn = _old_database(path, 5)
    conn.execute(
        "INSERT INTO touchpoints (slug, metric, scale, created_at, updated_at)"
        " VALUES ('old', 'csat', 'stars', 0, 0)"
    )
    hour = int(T0 // 3600)
    conn.executemany(
        "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (1, ?, ?)",
        [(hour, 10), (hour + 1, 2)],
    )
    conn.executemany(
        "INSERT INTO responses (id, touchpoint_id, score, created_at, updated_at)"
        " VALUES (?, 1, 5, ?, ?)",
        [(f"r{i}", T0 + 3600 + i, T0 + 3600 + i) for i in range(6)]
        + [(f"s{i}", T0 + i, T0 + i) for i in range(3)],
    )
    assert migrate(conn) == list(range(6, len(MIGRATIONS) + 1))
    answered = conn.execute("SELECT hour, answered FROM impressions ORDER BY hour").fetchall()
    shown = conn.execute("SELECT count(*) FROM responses WHERE shown").fetchone()
    conn.close()
    assert answered == [(hour, 3), (hour + 1, 2)]  # 6 ratings, 2 displays: at most 2
    assert shown == (5,)


async def test_a_migrated_estimate_agrees_with_a_recount(path: Path) -> None:
    test_migration_7_writes_down_the_answered_impressions_it_estimates(path)
    store = await open_store("sqlite", path.parent)
    try:
        assert (await store.recount()).equal
        assert store.totals(1)[1].answered == 5
    finally:
        await store.close()
