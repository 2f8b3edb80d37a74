"""The store on a real SQLite file: schema, group commit, rollups, windows, registry."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from scorelet.displays import Displays
from scorelet.errors import Problem
from scorelet.store import NewResponse, ResponseQuery, Store, schema, writes
from scorelet.store.records import time_ordered_id
from scorelet.store.schema import MIGRATIONS, migrate, schema_version
from scorelet.store.writer import in_thread
from scorelet.timeutil import DAY
from scorelet.tokens import api_key_id, api_key_matches
from scorelet.touchpoints import Touchpoint, new_touchpoint_fields

T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z, a UTC midnight


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "scorelet.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[Store]:
    store = await Store.open(path)
    try:
        yield store
    finally:
        await store.close()


async def add_touchpoint(store: Store, slug: str = "checkout", **options: Any) -> Touchpoint:
    fields = new_touchpoint_fields({"slug": slug, "metric": "csat", **options})
    return await store.create_touchpoint(fields)


def raw(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Query the file on a fresh connection, as another process would."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def recount(path: Path, touchpoint_id: int) -> dict[int, int]:
    rows = raw(
        path,
        "SELECT score, count(*) FROM responses WHERE touchpoint_id = ? GROUP BY score",
        touchpoint_id,
    )
    return dict(rows)


def rollup_totals(path: Path, touchpoint_id: int) -> dict[int, int]:
    rows = raw(
        path,
        "SELECT score, sum(count) FROM rollups WHERE touchpoint_id = ?"
        " GROUP BY score HAVING sum(count) != 0",
        touchpoint_id,
    )
    return dict(rows)


async def record_at(store: Store, new: NewResponse, now: float) -> Any:
    """Record through the real write path with a chosen clock."""
    return await store.writer.write(partial(writes.record_response, new=new, now=now))


def rating(touchpoint: Touchpoint, score: int, **kwargs: Any) -> NewResponse:
    kwargs.setdefault("comment", None)
    kwargs.setdefault("subject", None)
    return NewResponse(touchpoint.id, score, **kwargs)


# -- schema ------------------------------------------------------------------------------


async def test_open_creates_the_schema_at_the_latest_version(store: Store, path: Path) -> None:
    assert raw(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    tables = {name for (name,) in raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"touchpoints", "responses", "rollups", "impressions", "api_keys"} <= tables


async def test_the_database_is_in_wal_mode(store: Store, path: Path) -> None:
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        assert migrate(conn) == list(range(1, len(MIGRATIONS) + 1))
        schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        assert migrate(conn) == []
        assert schema_version(conn) == len(MIGRATIONS)
        assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    finally:
        conn.close()


async def test_reopening_keeps_data_and_applies_nothing(path: Path) -> None:
    first = await Store.open(path)
    touchpoint = await add_touchpoint(first)
    await first.record_response(rating(touchpoint, 5))
    await first.close()
    second = await Store.open(path)
    try:
        assert second.touchpoint("checkout") == touchpoint
        assert (await second.counts(touchpoint.id))[0] == {5: 1}
    finally:
        await second.close()
    assert raw(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


async def test_a_database_newer_than_the_code_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await Store.open(path)


async def test_open_refuses_an_unknown_synchronous_mode(path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        await Store.open(path, synchronous="off")


async def test_in_thread_runs_a_function_on_the_connection(store: Store) -> None:
    def answer(conn: sqlite3.Connection, number: int) -> int:
        value: int = conn.execute("SELECT ? + 1", (number,)).fetchone()[0]
        return value

    assert await in_thread(store._reader, answer, 41) == 42


# -- group commit --------------------------------------------------------------------------


async def test_concurrent_writes_share_batches_and_all_land(path: Path) -> None:
    store = await Store.open(path)
    touchpoint = await add_touchpoint(store)
    batches, writes_before = store.writer.batches, store.writer.writes
    results = await asyncio.gather(
        *(store.record_response(rating(touchpoint, 1 + i % 5)) for i in range(200))
    )
    assert all(replaced is None for _, replaced in results)
    assert store.writer.writes - writes_before == 200
    assert store.writer.batches - batches < 200
    await store.close()
    assert raw(path, "SELECT count(*) FROM responses") == [(200,)]
    assert recount(path, touchpoint.id) == {1: 40, 2: 40, 3: 40, 4: 40, 5: 40}


async def test_a_failing_write_does_not_sink_its_batch(store: Store, path: Path) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    taken = str(uuid.uuid4())
    await store.record_response(rating(checkout, 4, id=taken))

    def half_done_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO responses (id, touchpoint_id, score, context, created_at, updated_at)"
            " VALUES ('half', ?, 1, '{}', 0, 0)",
            (other.id,),
        )
        raise RuntimeError("boom")

    batches = store.writer.batches
    outcomes = await asyncio.gather(
        store.record_response(rating(other, 5)),
        store.record_response(rating(other, 2, id=taken)),  # id of checkout's response
        store.writer.write(half_done_then_fail),
        store.record_response(rating(other, 3)),
        return_exceptions=True,
    )
    assert store.writer.batches - batches == 1  # all four went in one transaction
    assert isinstance(outcomes[1], Problem)
    assert outcomes[1].code == "id_conflict"
    assert isinstance(outcomes[2], RuntimeError)
    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[3], BaseException)
    assert recount(path, other.id) == {5: 1, 3: 1}
    assert rollup_totals(path, other.id) == {5: 1, 3: 1}
    assert recount(path, checkout.id) == {4: 1}


# -- replacements ----------------------------------------------------------------------------


async def test_a_subject_keeps_one_rating_and_the_latest_wins(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    first, first_replaced = await store.record_response(
        rating(touchpoint, 2, subject="conv-1", context={"agent": "alice"})
    )
    second, second_replaced = await store.record_response(
        rating(touchpoint, 5, subject="conv-1", context={"agent": "alice"})
    )
    assert (first_replaced, second_replaced) == (None, 2)
    assert second.id == first.id
    assert second.score == 5
    assert raw(path, "SELECT count(*) FROM responses") == [(1,)]
    assert (await store.counts(touchpoint.id))[0] == {5: 1}
    assert rollup_totals(path, touchpoint.id) == {5: 1}
    assert (await store.counts(touchpoint.id, filters={"agent": "alice"}))[0] == {5: 1}


async def test_subjects_are_per_touchpoint(store: Store) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    await store.record_response(rating(checkout, 2, subject="order-1"))
    _, replaced = await store.record_response(rating(other, 4, subject="order-1"))
    assert replaced is None
    assert (await store.counts(checkout.id))[0] == {2: 1}
    assert (await store.counts(other.id))[0] == {4: 1}


async def test_replacing_keeps_the_comment_unless_a_new_one_is_given(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 2, subject="c", comment="slow"))
    kept, _ = await store.record_response(rating(touchpoint, 3, subject="c"))
    assert kept.comment == "slow"
    changed, _ = await store.record_response(rating(touchpoint, 4, subject="c", comment="ok"))
    assert changed.comment == "ok"
    stored = await store.response(changed.id)
    assert stored is not None
    assert (stored.score, stored.comment) == (4, "ok")


async def test_reposting_a_client_id_replaces_the_score(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    client_id = str(uuid.uuid4())
    first, first_replaced = await store.record_response(rating(touchpoint, 1, id=client_id))
    again, again_replaced = await store.record_response(
        rating(touchpoint, 4, id=client_id, edit_window=3600)
    )
    assert (first.id, again.id) == (client_id, client_id)
    assert (first_replaced, again_replaced) == (None, 1)
    assert recount(path, touchpoint.id) == {4: 1}
    assert (await store.counts(touchpoint.id))[0] == {4: 1}


async def test_reposting_after_the_edit_window_is_refused(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    client_id = str(uuid.uuid4())
    await record_at(store, rating(touchpoint, 1, id=client_id), T0)
    late = rating(touchpoint, 5, id=client_id, edit_window=3600)
    with pytest.raises(Problem) as caught:
        await record_at(store, late, T0 + 3601)
    assert (caught.value.code, caught.value.status) == ("edit_window_closed", 409)
    assert recount(path, touchpoint.id) == {1: 1}
    # Just inside the window it is still accepted.
    await record_at(store, late, T0 + 3600)
    assert recount(path, touchpoint.id) == {5: 1}


async def test_reposting_an_id_with_another_subject_is_a_conflict(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    client_id = str(uuid.uuid4())
    await store.record_response(rating(touchpoint, 1, id=client_id, subject="a"))
    with pytest.raises(Problem) as caught:
        await store.record_response(rating(touchpoint, 2, id=client_id, subject="b"))
    assert caught.value.code == "id_conflict"


async def test_rollups_always_equal_a_recount(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    rng = random.Random(20261123)
    ids: list[str] = []
    plain_ids: list[str] = []  # responses without a subject, which a client id may re-post
    subjects = [f"conv-{i}" for i in range(15)]
    for _ in range(400):
        action = rng.random()
        when = T0 + rng.uniform(-3 * DAY, 3 * DAY)
        score = rng.randint(1, 5)
        agent = {"agent": rng.choice("abc")}
        if action < 0.4:
            response, _ = await record_at(store, rating(touchpoint, score, context=agent), when)
            ids.append(response.id)
            plain_ids.append(response.id)
        elif action < 0.6:
            subject = rng.choice(subjects)
            response, replaced = await record_at(
                store, rating(touchpoint, score, subject=subject, context=agent), when
            )
            if replaced is None:
                ids.append(response.id)
        elif action < 0.75 and plain_ids:
            await record_at(store, rating(touchpoint, score, id=rng.choice(plain_ids)), when)
        elif action < 0.9 and ids:
            victim = ids.pop(rng.randrange(len(ids)))
            if victim in plain_ids:
                plain_ids.remove(victim)
            await sql(store, "DELETE FROM responses WHERE id = ?", victim)
        elif ids:  # a manual fix that moves a response to another day
            await sql(
                store, "UPDATE responses SET created_at = ? WHERE id = ?", when, rng.choice(ids)
            )
    assert rollup_totals(path, touchpoint.id) == recount(path, touchpoint.id)
    per_day = raw(
        path,
        "SELECT CAST(created_at / 86400 AS INTEGER), score, count(*) FROM responses"
        " WHERE touchpoint_id = ? GROUP BY 1, 2",
        touchpoint.id,
    )
    rollups = raw(
        path,
        "SELECT day, score, count FROM rollups WHERE touchpoint_id = ? AND count != 0",
        touchpoint.id,
    )
    assert sorted(rollups) == sorted(per_day)
    assert raw(path, "SELECT count(*) FROM rollups WHERE count < 0") == [(0,)]
    per_agent = raw(
        path,
        "SELECT json_extract(context, '$.agent'), score, count(*) FROM responses"
        " WHERE touchpoint_id = ? AND json_extract(context, '$.agent') IS NOT NULL GROUP BY 1, 2",
        touchpoint.id,
    )
    totals = raw(
        path,
        "SELECT value, score, count FROM context_totals WHERE touchpoint_id = ? AND count != 0",
        touchpoint.id,
    )
    assert sorted(totals) == sorted(per_agent)
    everything = (T0 - 10 * DAY, T0 + 10 * DAY)
    assert (await store.counts(touchpoint.id, *everything))[0] == recount(path, touchpoint.id)
    await store.reload()  # the raw writes above bypassed the in-memory totals
    assert (await store.counts(touchpoint.id))[0] == recount(path, touchpoint.id)


async def sql(store: Store, statement: str, *args: Any) -> None:
    await store.writer.write(lambda conn: conn.execute(statement, args).close())


# -- counts over windows -------------------------------------------------------------------


async def test_counts_over_windows_cutting_through_days_match_a_raw_recount(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    rng = random.Random(7)
    moments = [T0 + d * DAY for d in range(-2, 4)]  # exact midnights
    moments += [T0 + d * DAY - 0.001 for d in range(-2, 4)]  # just before them
    moments += [T0 + rng.uniform(-3 * DAY, 4 * DAY) for _ in range(150)]
    for moment in moments:
        await record_at(store, rating(touchpoint, rng.randint(1, 5)), moment)
    await store.reload()  # record_at bypasses the in-memory all-time totals

    def expected(since: float | None, until: float | None) -> dict[int, int]:
        sql = "SELECT score, count(*) FROM responses WHERE touchpoint_id = ?"
        args: list[Any] = [touchpoint.id]
        if since is not None:
            sql += " AND created_at >= ?"
            args.append(since)
        if until is not None:
            sql += " AND created_at < ?"
            args.append(until)
        return dict(raw(path, sql + " GROUP BY score", *args))

    edges = [T0 + d * DAY for d in range(-3, 5)] + [T0 + d * DAY - 0.001 for d in range(-2, 4)]
    windows: list[tuple[float | None, float | None]] = [
        (None, None),
        (T0, None),
        (None, T0),
        (T0 + 0.5 * DAY, T0 + 0.75 * DAY),  # inside one day
        (T0 + 0.5 * DAY, T0 + 1.25 * DAY),  # across one midnight, no whole day
        (T0 - 1.3 * DAY, T0 + 2.6 * DAY),  # partial, whole days, partial
        (T0 + DAY, T0),  # empty
    ]
    windows += [(rng.choice(edges), rng.choice(edges)) for _ in range(30)]
    for _ in range(60):
        low, high = sorted(rng.uniform(-4 * DAY, 5 * DAY) + T0 for _ in range(2))
        windows.append((rng.choice([low, None]), rng.choice([high, None])))
    for since, until in windows:
        counts, _ = await store.counts(touchpoint.id, since, until)
        assert counts == expected(since, until), (since, until)
    assert sum(expected(None, None).values()) == len(moments)


async def test_context_filters_select_matching_responses(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 5, context={"agent": "alice", "team": "a"}))
    await store.record_response(rating(touchpoint, 4, context={"agent": "alice", "team": "b"}))
    await store.record_response(rating(touchpoint, 1, context={"agent": "bob", "team": "a"}))
    await store.record_response(rating(touchpoint, 2))

    async def counts(**filters: str) -> dict[int, int]:
        result, impressions = await store.counts(touchpoint.id, filters=filters)
        assert impressions is None  # unknown under a filter
        return result

    assert await counts(agent="alice") == {5: 1, 4: 1}
    assert await counts(agent="alice", team="a") == {5: 1}
    assert await counts(team="a") == {5: 1, 1: 1}
    assert await counts(agent="carol") == {}
    assert await counts(agent="Alice") == {}


async def test_context_filters_follow_a_replaced_context(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 2, subject="c", context={"agent": "alice"}))
    await store.record_response(rating(touchpoint, 5, subject="c", context={"agent": "bob"}))
    assert (await store.counts(touchpoint.id, filters={"agent": "alice"}))[0] == {}
    assert (await store.counts(touchpoint.id, filters={"agent": "bob"}))[0] == {5: 1}


async def test_context_filters_combine_with_a_window(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    for offset, score in [(-DAY, 1), (0.5 * DAY, 4), (1.5 * DAY, 5)]:
        await record_at(store, rating(touchpoint, score, context={"agent": "a"}), T0 + offset)
    counts, _ = await store.counts(touchpoint.id, T0, T0 + DAY, {"agent": "a"})
    assert counts == {4: 1}


async def test_responses_of_other_touchpoints_are_not_counted(store: Store) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    await store.record_response(rating(other, 5, context={"agent": "a"}))
    assert await store.counts(checkout.id) == ({}, Displays())
    assert (await store.counts(checkout.id, filters={"agent": "a"}))[0] == {}


# -- impressions ------------------------------------------------------------------------------


async def test_impressions_are_counted(store: Store, path: Path) -> None:
    touchpoint = await add_touchpoint(store)
    await asyncio.gather(*(store.record_impression(touchpoint.id) for _ in range(7)))
    assert (await store.counts(touchpoint.id))[1] == Displays(7, 0)
    assert raw(path, "SELECT sum(count) FROM impressions") == [(7,)]


async def test_impressions_count_the_hours_starting_inside_a_window(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    hour0 = int(T0 // 3600)
    for hour, times in [(hour0 - 1, 2), (hour0, 3), (hour0 + 1, 5), (hour0 + 2, 7)]:
        for _ in range(times):
            await store.writer.write(
                partial(writes.record_impression, touchpoint_id=touchpoint.id, hour=hour)
            )
    await store.reload()  # the raw writes above bypass the in-memory totals

    async def impressions(since: float | None, until: float | None) -> int:
        displays = (await store.counts(touchpoint.id, since, until))[1]
        assert displays is not None
        return displays.impressions

    assert await impressions(None, None) == 17
    assert await impressions(T0, None) == 15
    assert await impressions(None, T0) == 2
    assert await impressions(T0, T0 + 3600) == 3
    assert await impressions(T0, T0 + 3601) == 8
    assert await impressions(T0 + 1, T0 + 3 * 3600) == 12  # the hour at T0 started before
    assert await impressions(T0 + 7200, T0 + 7200) == 0


async def test_only_ratings_from_a_counted_display_are_answered_impressions(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    for _ in range(4):
        await store.record_impression(touchpoint.id)
    shown, _ = await store.record_response(rating(touchpoint, 5, shown=True))
    await store.record_response(rating(touchpoint, 4))  # the API, an email link: no display
    await store.record_response(rating(touchpoint, 2, id=shown.id, shown=True))  # a change of mind
    assert store.totals(touchpoint.id)[1] == Displays(4, 1)
    assert (await store.counts(touchpoint.id, since=T0))[1] == Displays(4, 1)
    assert raw(path, "SELECT sum(answered) FROM impressions") == [(1,)]
    await store.reload()
    assert store.totals(touchpoint.id)[1] == Displays(4, 1)


async def test_deleting_a_rating_from_a_display_uncounts_its_answer(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_impression(touchpoint.id)
    shown, _ = await store.record_response(rating(touchpoint, 5, shown=True))
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM responses WHERE id = ?", (shown.id,))
    assert raw(path, "SELECT sum(count), sum(answered) FROM impressions") == [(1, 0)]


# -- touchpoints --------------------------------------------------------------------------------


async def test_create_touchpoint_returns_and_remembers_it(store: Store) -> None:
    touchpoint = await add_touchpoint(store, "checkout", scale="smileys3", origins=["https://a.b"])
    assert touchpoint.slug == "checkout"
    assert touchpoint.scale.name == "smileys3"
    assert touchpoint.satisfied_from == 3
    assert touchpoint.origins == ("https://a.b",)
    assert touchpoint.token_version == 1
    assert touchpoint.active is True
    assert store.touchpoint("checkout") == touchpoint
    assert [tp.slug for tp in store.touchpoints()] == ["checkout"]


async def test_creating_a_taken_slug_is_refused(store: Store) -> None:
    await add_touchpoint(store, "checkout")
    with pytest.raises(Problem) as caught:
        await add_touchpoint(store, "checkout")
    assert (caught.value.code, caught.value.status) == ("touchpoint_exists", 409)


async def test_update_touchpoint_changes_fields_in_memory_and_on_disk(
    store: Store, path: Path
) -> None:
    await add_touchpoint(store)
    updated = await store.update_touchpoint(
        "checkout", {"question": "Better?", "active": False, "origins": ["https://x.y"]}
    )
    assert (updated.question, updated.active, updated.origins) == (
        "Better?",
        False,
        ("https://x.y",),
    )
    assert updated.token_version == 1
    assert store.touchpoint("checkout") == updated
    assert raw(path, "SELECT question, active, origins FROM touchpoints") == [
        ("Better?", 0, '["https://x.y"]')
    ]


async def test_rotating_the_token_bumps_its_version(store: Store) -> None:
    created = await add_touchpoint(store)
    rotated = await store.update_touchpoint("checkout", {}, rotate_token=True)
    assert rotated.token_version == created.token_version + 1
    again = await store.update_touchpoint("checkout", {"question": "Q"}, rotate_token=True)
    assert again.token_version == created.token_version + 2


async def test_a_slug_used_again_never_takes_the_old_tokens_version(store: Store) -> None:
    first = await add_touchpoint(store)
    await store.update_touchpoint("checkout", {}, rotate_token=True)
    await store.delete_touchpoint("checkout")
    second = await add_touchpoint(store)
    assert second.token_version == first.token_version + 2
    await store.delete_touchpoint("checkout")
    third = await add_touchpoint(store)
    assert third.token_version == second.token_version + 1
    other = await add_touchpoint(store, "other")
    assert other.token_version == 1


async def test_updating_an_unknown_touchpoint_is_not_found(store: Store) -> None:
    with pytest.raises(Problem) as caught:
        await store.update_touchpoint("nope", {"question": "Q"})
    assert (caught.value.code, caught.value.status) == ("touchpoint_not_found", 404)


async def test_delete_touchpoint_removes_its_responses_and_rollups(
    store: Store, path: Path
) -> None:
    doomed = await add_touchpoint(store, "doomed")
    kept = await add_touchpoint(store, "kept")
    for touchpoint in (doomed, kept):
        await store.record_response(rating(touchpoint, 5, context={"agent": "a"}))
        await store.record_response(rating(touchpoint, 3, subject="s"))
        await store.record_impression(touchpoint.id)
    await store.delete_touchpoint("doomed")
    assert store.touchpoint("doomed") is None
    tables = ("responses", "rollups", "hourly_rollups", "context_rollups", "context_totals")
    for table in (*tables, "impressions"):
        rows = raw(path, f"SELECT count(*) FROM {table} WHERE touchpoint_id = ?", doomed.id)
        assert rows == [(0,)], table
    assert recount(path, kept.id) == {5: 1, 3: 1}
    assert rollup_totals(path, kept.id) == {5: 1, 3: 1}
    assert raw(path, "SELECT slug FROM touchpoints") == [("kept",)]
    with pytest.raises(Problem) as caught:
        await store.delete_touchpoint("doomed")
    assert caught.value.code == "touchpoint_not_found"


# -- API keys ---------------------------------------------------------------------------------


async def test_api_keys_are_stored_hashed(store: Store, path: Path) -> None:
    key, full_key = await store.create_api_key("read", "dashboard")
    assert api_key_id(full_key) == key.id
    assert api_key_matches(full_key, key.hash)
    assert store.api_key(key.id) == key
    stored = raw(path, "SELECT id, name, scope, hash, revoked_at FROM api_keys")
    assert stored == [(key.id, "dashboard", "read", key.hash, None)]
    assert full_key not in repr(stored)


async def test_revoking_a_key_marks_it_and_only_once(store: Store) -> None:
    key, _ = await store.create_api_key("admin", None)
    other, _ = await store.create_api_key("read", None)
    await store.revoke_api_key(key.id)
    revoked = store.api_key(key.id)
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert store.api_key(other.id) == other
    for key_id in (key.id, "deadbeef"):
        with pytest.raises(Problem) as caught:
            await store.revoke_api_key(key_id)
        assert (caught.value.code, caught.value.status) == ("key_not_found", 404)


async def test_an_unknown_scope_is_refused_by_the_schema(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await store.create_api_key("root", None)
    assert store.api_keys() == []


# -- comments -----------------------------------------------------------------------------------


async def test_update_comment_sets_and_clears_the_comment(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    response, _ = await store.record_response(rating(touchpoint, 2))
    updated = await store.update_comment(response.id, "too slow", touchpoint.id, None, 3600)
    assert (updated.comment, updated.score) == ("too slow", 2)
    cleared = await store.update_comment(response.id, None, touchpoint.id, None, 3600)
    stored = await store.response(response.id)
    assert cleared.comment is None
    assert stored is not None
    assert stored.comment is None


async def test_update_comment_needs_the_same_touchpoint_and_subject(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    other = await add_touchpoint(store, "other")
    response, _ = await store.record_response(rating(touchpoint, 2, subject="conv-1"))
    attempts: list[tuple[str, int, str | None, str, int]] = [
        (response.id, other.id, None, "token_mismatch", 403),
        (response.id, touchpoint.id, "conv-2", "token_mismatch", 403),
        (str(uuid.uuid4()), touchpoint.id, None, "response_not_found", 404),
    ]
    for response_id, touchpoint_id, subject, code, status in attempts:
        with pytest.raises(Problem) as caught:
            await store.update_comment(response_id, "hi", touchpoint_id, subject, None)
        assert (caught.value.code, caught.value.status) == (code, status)
    assert (await store.update_comment(response.id, "hi", touchpoint.id, "conv-1", 0)).comment


async def test_update_comment_after_the_edit_window_is_refused(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    response, _ = await record_at(store, rating(touchpoint, 2), T0)
    with pytest.raises(Problem) as caught:
        await store.update_comment(response.id, "late", touchpoint.id, None, 3600)
    assert caught.value.code == "edit_window_closed"


# -- lifecycle -----------------------------------------------------------------------------------


async def test_close_commits_writes_still_in_the_queue(path: Path) -> None:
    store = await Store.open(path)
    touchpoint = await add_touchpoint(store)
    pending = [
        asyncio.create_task(store.record_response(rating(touchpoint, 1 + i % 5))) for i in range(50)
    ]
    await asyncio.sleep(0)  # every write is queued, none committed yet
    assert store.writer.depth == 50
    await store.close()
    assert all(task.done() and task.exception() is None for task in pending)
    reopened = await Store.open(path)
    try:
        counts, _ = await reopened.counts(touchpoint.id)
        assert sum(counts.values()) == 50
    finally:
        await reopened.close()


async def test_writing_after_close_is_refused(path: Path) -> None:
    store = await Store.open(path)
    await store.close()
    with pytest.raises(RuntimeError, match="not running"):
        await store.record_impression(1)


async def test_maintain_picks_up_changes_made_by_another_process(path: Path) -> None:
    server = await Store.open(path)
    try:
        await server.maintain()
        cli = await Store.open(path)
        try:
            await add_touchpoint(cli, "from-cli")
            key, _ = await cli.create_api_key("read", "cli key")
        finally:
            await cli.close()
        assert server.touchpoint("from-cli") is None
        await server.maintain()
        found = server.touchpoint("from-cli")
        assert found is not None
        assert found.metric == "csat"
        assert server.api_key(key.id) is not None

        cli = await Store.open(path)
        try:
            await cli.delete_touchpoint("from-cli")
        finally:
            await cli.close()
        await server.maintain()
        assert server.touchpoint("from-cli") is None
    finally:
        await server.close()


async def test_maintain_without_outside_changes_keeps_the_registry(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.maintain()
    await store.record_response(rating(touchpoint, 3))
    await store.maintain()
    assert store.touchpoint("checkout") == touchpoint


async def test_first_maintain_sees_a_change_made_right_after_open(path: Path) -> None:
    server = await Store.open(path)
    try:
        cli = await Store.open(path)
        try:
            await add_touchpoint(cli, "early")
        finally:
            await cli.close()
        await server.maintain()
        assert server.touchpoint("early") is not None
    finally:
        await server.close()


async def test_a_write_queued_during_the_final_commit_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "scorelet.db"
    store = await Store.open(path)
    touchpoint = await store.create_touchpoint(
        new_touchpoint_fields({"slug": "a", "metric": "csat"})
    )
    rating = NewResponse(touchpoint.id, 5, None, None)
    first = asyncio.create_task(store.record_response(rating))
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)  # the writer now commits [first, stop] in its thread
    late = asyncio.create_task(store.record_response(rating))
    await first
    await closing
    # Either committed or refused, but it must finish.
    done, _ = await asyncio.wait({late}, timeout=2)
    assert late in done
    late.cancel()


# -- in-memory totals, generations, breakdowns, listings ------------------------------------


async def test_in_memory_totals_follow_inserts_replacements_and_impressions(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 2, subject="c1"))
    await store.record_response(rating(touchpoint, 5, subject="c1"))  # change of mind
    await store.record_response(rating(touchpoint, 4))
    await store.record_impression(touchpoint.id)
    counts, displays = store.totals(touchpoint.id)
    assert counts == recount(path, touchpoint.id) == {4: 1, 5: 1}
    assert displays == Displays(1, 0)
    assert store.received[touchpoint.id] == {2: 1, 5: 1, 4: 1}  # every rating received


async def test_generations_move_only_when_numbers_or_listings_change(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    scored, listed = store.scored_at(touchpoint.id), store.listed_at(touchpoint.id)
    response, _ = await store.record_response(rating(touchpoint, 3))
    assert store.scored_at(touchpoint.id) > scored
    scored, listed = store.scored_at(touchpoint.id), store.listed_at(touchpoint.id)
    await store.update_comment(response.id, "ok", touchpoint.id, None, None)
    assert store.scored_at(touchpoint.id) == scored  # a comment moves no number
    assert store.listed_at(touchpoint.id) > listed
    scored = store.scored_at(touchpoint.id)
    await store.record_response(rating(touchpoint, 3, id=response.id))  # same score again
    assert store.scored_at(touchpoint.id) == scored


async def test_wait_for_change_wakes_on_a_commit(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    waiter = asyncio.create_task(store.wait_for_change(10))
    await asyncio.sleep(0)
    await store.record_response(rating(touchpoint, 5))
    assert await waiter is True
    assert await store.wait_for_change(0.05) is False


async def test_breakdown_matches_a_raw_recount_across_partial_days(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    rng = random.Random(11)
    for _ in range(300):
        agent = rng.choice(["alice", "bob", "carol"])
        when = T0 + rng.uniform(-3 * DAY, 3 * DAY)
        new = rating(touchpoint, rng.randint(1, 5), context={"agent": agent, "team": agent[0]})
        await record_at(store, new, when)
    for since, until in [
        (None, None),
        (T0 - 1.5 * DAY, T0 + 0.3 * DAY),
        (T0 + 0.1, T0 + 0.2 * DAY),
    ]:
        groups = await store.breakdown(touchpoint.id, "agent", since, until)
        sql = (
            "SELECT json_extract(context, '$.agent'), score, count(*) FROM responses"
            " WHERE touchpoint_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1, 2"
        )
        expected: dict[str, dict[int, int]] = {}
        low, high = since if since is not None else -1e18, until if until is not None else 1e18
        for agent, score, count in raw(path, sql, touchpoint.id, low, high):
            expected.setdefault(agent, {})[score] = count
        assert groups == expected, (since, until)
    filtered = await store.breakdown(touchpoint.id, "agent", filters={"team": "a"})
    assert set(filtered) == {"alice"}


async def test_breakdown_follows_replaced_ratings(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 1, subject="c", context={"agent": "alice"}))
    await store.record_response(rating(touchpoint, 5, subject="c", context={"agent": "bob"}))
    assert await store.breakdown(touchpoint.id, "agent") == {"bob": {5: 1}}


async def test_listing_pages_newest_first_and_filters(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    for i in range(25):
        new = rating(touchpoint, 1 + i % 5, comment="c" if i % 2 else None, subject=f"s{i}")
        await record_at(store, new, T0 + i)
    query = ResponseQuery(touchpoint.id)
    first = await store.list_responses(query, 10)
    second = await store.list_responses(query, 10, (first[-1].created_at, first[-1].id))
    assert [r.created_at for r in first + second] == [T0 + i for i in range(24, 4, -1)]
    every = [r for page in [p async for p in store.iter_responses(query, page=7)] for r in page]
    assert len(every) == 25
    assert len({r.id for r in every}) == 25
    picky = ResponseQuery(touchpoint.id, min_score=4, has_comment=True)
    assert {(r.score >= 4, r.comment) for r in await store.list_responses(picky, 100)} == {
        (True, "c")
    }
    one = await store.list_responses(ResponseQuery(touchpoint.id, subject="s3"), 100)
    assert [r.subject for r in one] == ["s3"]


def test_new_ids_are_uuid7_in_time_order() -> None:
    moments = sorted([*(random.uniform(0, 4e9) for _ in range(2000)), T0, T0 + 0.001, T0 + 1])
    ids = [time_ordered_id(moment) for moment in moments]
    parsed = [uuid.UUID(text) for text in ids]
    assert all(p.version == 7 and p.variant == uuid.RFC_4122 for p in parsed)
    assert [str(p) for p in parsed] == ids
    assert [p.int >> 80 for p in parsed] == [int(moment * 1000) for moment in moments]
    by_time = sorted(range(len(ids)), key=lambda n: (int(moments[n] * 1000), ids[n]))
    assert by_time == sorted(range(len(ids)), key=lambda n: ids[n])  # text order is time order
    assert len({time_ordered_id(T0) for _ in range(1000)}) == 1000


async def test_a_new_rating_gets_a_time_ordered_id(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    first, _ = await store.record_response(rating(touchpoint, 5))
    await asyncio.sleep(0.002)
    second, _ = await store.record_response(rating(touchpoint, 4))
    assert uuid.UUID(first.id).version == uuid.UUID(second.id).version == 7
    assert first.id < second.id


def test_migration_2_backfills_hourly_and_context_rollups(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("BEGIN")
    for statement in schema._statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
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


def test_migration_6_estimates_answered_impressions_for_older_hours(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("BEGIN")
    for script in MIGRATIONS[:5]:
        for statement in schema._statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    conn.execute("COMMIT")
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
    assert migrate(conn) == [6]
    answered = conn.execute("SELECT hour, answered FROM impressions ORDER BY hour").fetchall()
    conn.close()
    assert answered == [(hour, 3), (hour + 1, 2)]  # 6 ratings, 2 displays: at most 2


def test_migration_4_keeps_one_insert_trigger_and_counts_context_without_an_index(
    tmp_path: Path,
) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("BEGIN")
    for script in MIGRATIONS[:3]:
        for statement in schema._statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("COMMIT")
    conn.execute(
        "INSERT INTO touchpoints (slug, metric, scale, created_at, updated_at)"
        " VALUES ('old', 'csat', 'stars', 0, 0)"
    )
    insert = (
        "INSERT INTO responses (id, touchpoint_id, score, context, created_at, updated_at)"
        " VALUES (?, 1, ?, ?, ?, ?)"
    )
    conn.execute(insert, ("before", 4, '{"agent":"a"}', T0, T0))
    assert migrate(conn) == list(range(4, len(MIGRATIONS) + 1))
    conn.execute(insert, ("after", 2, '{"agent":"a","team":"t"}', T0 + 60, T0 + 60))
    conn.execute(insert, ("bare", 5, "{}", T0 + 120, T0 + 120))
    triggers = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'responses'"
        " AND sql LIKE '%AFTER INSERT%'"
    ).fetchall()
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    totals = conn.execute(
        "SELECT key, value, score, count FROM context_totals ORDER BY 1, 3"
    ).fetchall()
    daily = conn.execute("SELECT score, count FROM rollups ORDER BY 1").fetchall()
    conn.execute("DELETE FROM responses WHERE id = 'after'")
    after_delete = conn.execute(
        "SELECT key, sum(count) FROM context_rollups GROUP BY 1 ORDER BY 1"
    ).fetchall()
    daily_after_delete = conn.execute("SELECT sum(count) FROM rollups").fetchone()
    conn.close()
    assert triggers == [("responses_counted",)]
    assert "response_context" not in tables
    assert totals == [("agent", "a", 2, 1), ("agent", "a", 4, 1), ("team", "t", 2, 1)]
    assert daily == [(2, 1), (4, 1), (5, 1)]
    assert after_delete == [("agent", 1), ("team", 0)]
    assert daily_after_delete == (2,)


async def test_a_full_disk_is_a_503_and_marks_the_writer_unhealthy(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 5))
    pages = (await store.writer.write(lambda conn: conn.execute("PRAGMA page_count").fetchone()))[0]
    # SQLite's own limit on the file's size, as a full disk would have it.
    await store.writer.write(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))
    with pytest.raises(Problem) as caught:
        await store.record_response(rating(touchpoint, 4, comment="x" * 20000))
    assert (caught.value.status, caught.value.code) == (503, "storage_unavailable")
    assert not store.writer.healthy
    await store.writer.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    await store.record_response(rating(touchpoint, 4))
    assert store.writer.healthy
    assert store.totals(touchpoint.id)[0] == {5: 1, 4: 1}


async def test_a_failed_single_statement_write_leaves_nothing_without_a_savepoint(
    store: Store, path: Path
) -> None:
    touchpoint = await add_touchpoint(store)
    ghost = NewResponse(touchpoint.id + 1000, 5, None, None, {"agent": "a"})  # no such touchpoint
    results = await asyncio.gather(
        store.record_response(rating(touchpoint, 4)),
        store.record_response(ghost),
        store.record_response(rating(touchpoint, 2)),
        return_exceptions=True,
    )
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert recount(path, touchpoint.id) == {4: 1, 2: 1}
    assert raw(
        path, "SELECT count(*) FROM rollups WHERE touchpoint_id = ?", ghost.touchpoint_id
    ) == [(0,)]
    assert raw(path, "SELECT count(*) FROM context_rollups") == [(0,)]


async def test_a_reload_re_scores_only_the_touchpoints_whose_numbers_changed(
    store: Store, path: Path
) -> None:
    changed, untouched = await add_touchpoint(store, "changed"), await add_touchpoint(store, "same")
    scored = {tp.id: store.scored_at(tp.id) for tp in (changed, untouched)}
    listed = store.listed_at(untouched.id)
    with sqlite3.connect(path) as conn:  # another process: the CLI, or a manual fix
        conn.execute(
            "INSERT INTO responses (id, touchpoint_id, score, created_at, updated_at)"
            " VALUES ('x', ?, 5, ?, ?)",
            (changed.id, T0, T0),
        )
    await store.refresh_if_changed()
    assert store.scored_at(changed.id) > scored[changed.id]
    assert store.scored_at(untouched.id) == scored[untouched.id]  # its caches and streams stay
    assert store.listed_at(untouched.id) > listed
    assert store.scored_generation == store.scored_at(changed.id)
