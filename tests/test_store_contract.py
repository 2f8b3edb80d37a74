"""The storage contract, tested through `Store` on every backend (tests/backends.py).

Nothing here knows SQL: what storage did is read back through the interface,
and rollups are checked with `recount`, which folds every raw row afresh and
compares with what the rollups (plus what is unfolded) hold. The same file
runs unchanged against each backend.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import BACKENDS, open_store
from scorelet.displays import Displays
from scorelet.eligibility import Policy, Seen
from scorelet.rollups import matches
from scorelet.store import (
    AlreadyExists,
    NewResponse,
    NotFound,
    Refused,
    Response,
    ResponseQuery,
    Store,
)
from scorelet.store.errors import Unavailable
from scorelet.store.records import Display, Identity, Person, time_ordered_id
from scorelet.timeutil import DAY, HOUR
from scorelet.tokens import api_key_id, api_key_matches
from scorelet.touchpoints import Touchpoint, new_touchpoint_fields

T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z, a UTC midnight


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(kind: str, tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    store = await open_store(kind, tmp_path, clock)
    try:
        yield store
    finally:
        await store.close()


async def add_touchpoint(store: Store, slug: str = "checkout", **options: Any) -> Touchpoint:
    fields = new_touchpoint_fields({"slug": slug, "metric": "csat", **options})
    return await store.create_touchpoint(fields)


def rating(touchpoint: Touchpoint, score: int, **kwargs: Any) -> NewResponse:
    kwargs.setdefault("comment", None)
    kwargs.setdefault("subject", None)
    return NewResponse(touchpoint.id, score, **kwargs)


async def everything(store: Store, touchpoint: Touchpoint) -> list[Any]:
    return [r async for page in store.iter_responses(ResponseQuery(touchpoint.id)) for r in page]


async def assert_rollups_exact(store: Store) -> None:
    check = await store.recount()
    assert check.stored == check.recounted


# -- recording and replacing --------------------------------------------------------------


async def test_reopening_keeps_data(kind: str, tmp_path: Path) -> None:
    first = await open_store(kind, tmp_path)
    touchpoint = await add_touchpoint(first)
    await first.record_response(rating(touchpoint, 5))
    await first.close()
    second = await open_store(kind, tmp_path)
    try:
        assert second.touchpoint("checkout") == touchpoint
        assert (await second.counts(touchpoint.id))[0] == {5: 1}
        await assert_rollups_exact(second)
    finally:
        await second.close()


async def test_concurrent_writes_all_land_and_count(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    writes_before = store.health().writes
    results = await asyncio.gather(
        *(store.record_response(rating(touchpoint, 1 + i % 5)) for i in range(200))
    )
    assert all(result.created for result in results)
    assert store.health().writes - writes_before == 200
    assert len(await everything(store, touchpoint)) == 200
    assert (await store.counts(touchpoint.id, T0 - DAY, T0 + DAY))[0] == {
        s: 40 for s in range(1, 6)
    }
    await assert_rollups_exact(store)


async def test_a_refused_write_does_not_sink_the_others(store: Store) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    taken = str(uuid.uuid4())
    await store.record_response(rating(checkout, 4, id=taken))
    outcomes = await asyncio.gather(
        store.record_response(rating(other, 5)),
        store.record_response(rating(other, 2, id=taken)),  # the id of checkout's rating
        store.record_response(rating(other, 3)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Refused)
    assert outcomes[1].code == "id_conflict"
    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[2], BaseException)
    assert sorted(r.score for r in await everything(store, other)) == [3, 5]
    assert [r.score for r in await everything(store, checkout)] == [4]


async def test_a_subject_keeps_one_rating_and_the_latest_wins(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    first = await store.record_response(rating(touchpoint, 2, subject="c1", context={"a": "x"}))
    second = await store.record_response(rating(touchpoint, 5, subject="c1", context={"a": "y"}))
    assert first.created
    assert not second.created
    assert second.previous is not None
    assert (second.previous.score, second.previous.context) == (2, {"a": "x"})
    assert second.response.id == first.response.id
    assert [r.score for r in await everything(store, touchpoint)] == [5]
    assert (await store.counts(touchpoint.id))[0] == {5: 1}
    assert (await store.counts(touchpoint.id, filters={"a": "x"}))[0] == {}
    assert (await store.counts(touchpoint.id, filters={"a": "y"}))[0] == {5: 1}


async def test_subjects_are_per_touchpoint(store: Store) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    await store.record_response(rating(checkout, 2, subject="order-1"))
    assert (await store.record_response(rating(other, 4, subject="order-1"))).created
    assert (await store.counts(checkout.id))[0] == {2: 1}
    assert (await store.counts(other.id))[0] == {4: 1}


async def test_replacing_keeps_the_comment_unless_a_new_one_is_given(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 2, subject="c", comment="slow"))
    kept = (await store.record_response(rating(touchpoint, 3, subject="c"))).response
    assert kept.comment == "slow"
    changed = (
        await store.record_response(rating(touchpoint, 4, subject="c", comment="ok"))
    ).response
    stored = await store.response(changed.id)
    assert stored is not None
    assert (stored.score, stored.comment) == (4, "ok")


async def test_reposting_an_id_replaces_the_score_within_the_edit_window(
    store: Store, clock: Clock
) -> None:
    touchpoint = await add_touchpoint(store)
    client_id = str(uuid.uuid4())
    first = await store.record_response(rating(touchpoint, 1, id=client_id))
    clock.now += 3600
    again = await store.record_response(rating(touchpoint, 4, id=client_id, edit_window=3600))
    assert (first.response.id, again.response.id) == (client_id, client_id)
    assert again.previous is not None
    assert again.previous.score == 1
    clock.now += 1
    with pytest.raises(Refused) as late:
        await store.record_response(rating(touchpoint, 5, id=client_id, edit_window=3600))
    assert late.value.code == "edit_window_closed"
    assert [r.score for r in await everything(store, touchpoint)] == [4]


async def test_one_rating_per_browser_within_the_edit_window(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    first = await store.record_response(rating(touchpoint, 2, client="browser-0123456789ab"))
    again = await store.record_response(
        rating(touchpoint, 5, client="browser-0123456789ab", id=str(uuid.uuid4()))
    )
    assert first.created
    assert not again.created
    assert again.response.id == first.response.id
    clock.now += 2 * DAY  # a day later the same browser rates afresh
    later = await store.record_response(rating(touchpoint, 3, client="browser-0123456789ab"))
    assert later.created
    assert sorted(r.score for r in await everything(store, touchpoint)) == [3, 5]


async def test_the_browser_map_survives_a_restart(kind: str, tmp_path: Path) -> None:
    first = await open_store(kind, tmp_path)
    touchpoint = await add_touchpoint(first)
    made = await first.record_response(rating(touchpoint, 2, client="browser-restart-0001"))
    await first.close()
    second = await open_store(kind, tmp_path)
    try:
        again = await second.record_response(rating(touchpoint, 4, client="browser-restart-0001"))
        assert not again.created
        assert again.response.id == made.response.id
    finally:
        await second.close()


async def test_an_id_of_another_subject_is_a_conflict(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    mine = await store.record_response(rating(touchpoint, 1, subject="a"))
    await store.record_response(rating(touchpoint, 2, subject="b"))
    for new in (
        rating(touchpoint, 3, id=mine.response.id, subject="b"),
        rating(touchpoint, 3, id=mine.response.id, subject="c"),
    ):
        with pytest.raises(Refused) as caught:
            await store.record_response(new)
        assert caught.value.code == "id_conflict"
    assert sorted(r.score for r in await everything(store, touchpoint)) == [1, 2]


async def test_a_deleted_rating_leaves_every_count(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    kept = await store.record_response(rating(touchpoint, 5, context={"agent": "a"}))
    gone = await store.record_response(rating(touchpoint, 1, context={"agent": "b"}))
    await store.backend.fold()  # the deleted one is in the rollups by now
    deleted = await store.delete_response(gone.response.id)
    assert deleted.score == 1
    window = (T0 - DAY, T0 + DAY)
    assert (await store.counts(touchpoint.id))[0] == {5: 1}
    assert (await store.counts(touchpoint.id, *window))[0] == {5: 1}
    assert await store.breakdown(touchpoint.id, "agent") == {"a": {5: 1}}
    assert [r.id for r in await everything(store, touchpoint)] == [kept.response.id]
    await assert_rollups_exact(store)
    with pytest.raises(NotFound):
        await store.delete_response(gone.response.id)


# -- reads are exact at every instant -------------------------------------------------------


async def test_a_read_right_after_a_write_includes_it(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    for score in (1, 2, 3, 4, 5):
        await store.record_response(rating(touchpoint, score, context={"team": "t"}))
        assert sum((await store.counts(touchpoint.id, T0 - 1, T0 + 1))[0].values()) == score
        assert sum((await store.counts(touchpoint.id, T0 - DAY, T0 + DAY))[0].values()) == score
        groups = await store.breakdown(touchpoint.id, "team")
        assert sum(groups["t"].values()) == score
        if score == 3:
            await store.backend.fold()


@dataclass
class Model:
    """What the store should hold: the current version of every rating."""

    ratings: dict[str, tuple[float, int, dict[str, str], str | None]] = field(default_factory=dict)

    def counts(
        self, since: float | None, until: float | None, filters: Mapping[str, str]
    ) -> dict[int, int]:
        counts: dict[int, int] = {}
        for created_at, score, context, _ in self.ratings.values():
            if _inside(created_at, since, until) and matches(context, filters):
                counts[score] = counts.get(score, 0) + 1
        return counts

    def breakdown(
        self, key: str, since: float | None, until: float | None
    ) -> dict[str, dict[int, int]]:
        groups: dict[str, dict[int, int]] = {}
        for created_at, score, context, _ in self.ratings.values():
            if key in context and _inside(created_at, since, until):
                group = groups.setdefault(context[key], {})
                group[score] = group.get(score, 0) + 1
        return groups


def _inside(moment: float, since: float | None, until: float | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment < until)


actions = st.lists(
    st.tuples(
        st.sampled_from(["new", "subject", "repost", "delete", "comment", "fold"]),
        st.floats(-3 * DAY, 3 * DAY),
        st.integers(1, 5),
        st.sampled_from(["alice", "bob", "carol"]),
        st.integers(0, 7),
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.parametrize("kind", BACKENDS)
@settings(
    database=None,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    steps=actions,
    probes=st.lists(st.tuples(st.floats(-4 * DAY, 4 * DAY), st.floats(0, 3 * DAY)), max_size=6),
)
def test_rollups_plus_unfolded_equal_a_recount_under_any_interleaving(
    kind: str, steps: list[tuple[str, float, int, str, int]], probes: list[tuple[float, float]]
) -> None:
    """Inserts, replacements, deletions and comments with folds anywhere in between:
    every count, window and breakdown equals a recount, before and after each fold."""

    async def run(directory: Path) -> None:
        clock = Clock()
        store = await open_store(kind, directory, clock)
        model = Model()
        try:
            touchpoint = await add_touchpoint(store)
            for action, offset, score, agent, pick in steps:
                clock.now = T0 + offset
                ids = sorted(model.ratings)
                context = {"agent": agent}
                if action == "fold":
                    await store.backend.fold()
                elif action == "new":
                    made = await store.record_response(rating(touchpoint, score, context=context))
                    model.ratings[made.response.id] = (clock.now, score, context, None)
                elif action == "subject":
                    made = await store.record_response(
                        rating(touchpoint, score, subject=f"s{pick}", context=context)
                    )
                    created = made.response.created_at
                    model.ratings[made.response.id] = (created, score, context, f"s{pick}")
                elif ids and action == "repost" and model.ratings[ids[pick % len(ids)]][3] is None:
                    target = ids[pick % len(ids)]
                    made = await store.record_response(
                        rating(touchpoint, score, id=target, context=context)
                    )
                    model.ratings[target] = (model.ratings[target][0], score, context, None)
                elif ids and action == "delete":
                    target = ids[pick % len(ids)]
                    await store.delete_response(target)
                    del model.ratings[target]
                elif ids and action == "comment":
                    target = ids[pick % len(ids)]
                    subject = model.ratings[target][3]
                    await store.update_comment(target, f"c{pick}", touchpoint.id, subject, None)
            for stage in ("unfolded", "folded"):
                assert (await store.counts(touchpoint.id))[0] == model.counts(None, None, {}), stage
                for start, length in probes:
                    since, until = T0 + start, T0 + start + length
                    for filters in ({}, {"agent": "alice"}):
                        got = (await store.counts(touchpoint.id, since, until, filters))[0]
                        assert got == model.counts(since, until, filters), (
                            stage,
                            since,
                            until,
                            filters,
                        )
                    got_groups = await store.breakdown(touchpoint.id, "agent", since, until)
                    assert got_groups == model.breakdown("agent", since, until), stage
                assert await store.breakdown(touchpoint.id, "agent") == model.breakdown(
                    "agent", None, None
                )
                await assert_rollups_exact(store)
                await store.backend.fold()
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(Path(directory)))


async def test_counts_over_windows_cutting_through_days_match_a_recount(
    store: Store, clock: Clock
) -> None:
    touchpoint = await add_touchpoint(store)
    rng = random.Random(7)
    model = Model()
    moments = [T0 + d * DAY for d in range(-2, 4)]  # exact midnights
    moments += [T0 + d * DAY - 0.001 for d in range(-2, 4)]  # just before them
    moments += [T0 + rng.uniform(-3 * DAY, 4 * DAY) for _ in range(150)]
    for number, moment in enumerate(moments):
        clock.now = moment
        score = rng.randint(1, 5)
        made = await store.record_response(rating(touchpoint, score))
        model.ratings[made.response.id] = (moment, score, {}, None)
        if number == 80:
            await store.backend.fold()  # half folded, half not
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
        assert counts == model.counts(since, until, {}), (since, until)
    assert sum(model.counts(None, None, {}).values()) == len(moments)


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


async def test_responses_of_other_touchpoints_are_not_counted(store: Store) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    await store.record_response(rating(other, 5, context={"agent": "a"}))
    assert await store.counts(checkout.id) == ({}, Displays())
    assert (await store.counts(checkout.id, filters={"agent": "a"}))[0] == {}
    assert await store.breakdown(checkout.id, "agent") == {}


async def test_impressions_count_the_hours_starting_inside_a_window(
    store: Store, clock: Clock
) -> None:
    touchpoint = await add_touchpoint(store)
    for hour, times in [(-1, 2), (0, 3), (1, 5), (2, 7)]:
        clock.now = T0 + hour * HOUR + 60
        for _ in range(times):
            await store.record_impression(touchpoint.id)

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


async def test_series_counts_each_bucket(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    for day, score in [(0, 5), (0, 4), (1, 1), (3, 2)]:
        clock.now = T0 + day * DAY + 5
        await store.record_response(rating(touchpoint, score))
        await store.record_impression(touchpoint.id)
    buckets = [(T0 + d * DAY, T0 + (d + 1) * DAY) for d in range(4)]
    series = await store.series(touchpoint.id, buckets)
    assert series == [
        ({5: 1, 4: 1}, Displays(2)),
        ({1: 1}, Displays(1)),
        ({}, Displays()),
        ({2: 1}, Displays(1)),
    ]
    assert (await store.series(touchpoint.id, buckets, {"x": "y"}))[0] == ({}, None)


async def test_only_ratings_from_a_counted_display_answer_it(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    for _ in range(4):
        await store.record_impression(touchpoint.id)
    shown = await store.record_response(rating(touchpoint, 5, shown=True))
    await store.record_response(rating(touchpoint, 4))  # the API, an email link: no display
    await store.record_response(rating(touchpoint, 2, id=shown.response.id))  # a change of mind
    doomed = await store.record_response(rating(touchpoint, 3, shown=True))
    await store.delete_response(doomed.response.id)
    assert store.totals(touchpoint.id)[1] == Displays(4, 1)
    for stage in ("unfolded", "folded"):
        assert (await store.counts(touchpoint.id, T0 - 60, T0 + 3600))[1] == Displays(4, 1), stage
        await assert_rollups_exact(store)
        await store.backend.fold()
    clock.now += 7200
    assert (await store.counts(touchpoint.id, since=T0 + 3600))[1] == Displays(0, 0)


async def test_a_refresh_re_scores_only_the_touchpoints_another_process_changed(
    kind: str, tmp_path: Path
) -> None:
    server = await open_store(kind, tmp_path)
    try:
        changed = await add_touchpoint(server, "changed")
        untouched = await add_touchpoint(server, "same")
        scored = {tp.id: server.scored_at(tp.id) for tp in (changed, untouched)}
        cli = await open_store(kind, tmp_path)
        try:
            await cli.record_response(rating(changed, 5))
        finally:
            await cli.close()
        await server.refresh_if_changed()
        assert server.scored_at(changed.id) > scored[changed.id]
        assert server.scored_at(untouched.id) == scored[untouched.id]  # its caches stay
        assert server.scored_generation == server.scored_at(changed.id)
        assert server.totals(changed.id)[0] == {5: 1}
    finally:
        await server.close()


# -- breakdowns and listings ----------------------------------------------------------------


async def test_breakdown_matches_a_recount_across_partial_days(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    rng = random.Random(11)
    model = Model()
    for number in range(300):
        agent = rng.choice(["alice", "bob", "carol"])
        clock.now = T0 + rng.uniform(-3 * DAY, 3 * DAY)
        score = rng.randint(1, 5)
        context = {"agent": agent, "team": agent[0]}
        made = await store.record_response(rating(touchpoint, score, context=context))
        model.ratings[made.response.id] = (clock.now, score, context, None)
        if number == 150:
            await store.backend.fold()
    for since, until in [
        (None, None),
        (T0 - 1.5 * DAY, T0 + 0.3 * DAY),
        (T0 + 0.1, T0 + 0.2 * DAY),
    ]:
        assert await store.breakdown(touchpoint.id, "agent", since, until) == model.breakdown(
            "agent", since, until
        ), (since, until)
    filtered = await store.breakdown(touchpoint.id, "agent", filters={"team": "a"})
    assert set(filtered) == {"alice"}


async def test_listing_pages_newest_first_and_filters(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    for i in range(25):
        clock.now = T0 + i
        new = rating(touchpoint, 1 + i % 5, comment="c" if i % 2 else None, subject=f"s{i}")
        await store.record_response(new)
    query = ResponseQuery(touchpoint.id)
    first = await store.list_responses(query, 10)
    second = await store.list_responses(query, 10, (first[-1].created_at, first[-1].id))
    assert [r.created_at for r in first + second] == [T0 + i for i in range(24, 4, -1)]
    every = [r for page in [p async for p in store.iter_responses(query, page=7)] for r in page]
    assert len({r.id for r in every}) == 25
    picky = ResponseQuery(touchpoint.id, min_score=4, has_comment=True)
    assert {(r.score >= 4, r.comment) for r in await store.list_responses(picky, 100)} == {
        (True, "c")
    }
    one = await store.list_responses(ResponseQuery(touchpoint.id, subject="s3"), 100)
    assert [r.subject for r in one] == ["s3"]
    windowed = await store.list_responses(ResponseQuery(touchpoint.id, T0 + 3, T0 + 6), 100)
    assert [r.created_at for r in windowed] == [T0 + 5, T0 + 4, T0 + 3]


async def test_a_new_rating_gets_a_time_ordered_id(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    first = (await store.record_response(rating(touchpoint, 5))).response
    clock.now += 0.002
    second = (await store.record_response(rating(touchpoint, 4))).response
    assert uuid.UUID(first.id).version == uuid.UUID(second.id).version == 7
    assert first.id < second.id
    assert len({time_ordered_id(T0) for _ in range(100)}) == 100


def test_a_forked_process_makes_ids_of_its_own() -> None:
    """Ids draw on a page of random bytes; a child must not reuse what its parent had left.
    (In a process of its own: this one has threads, and forking it would copy their locks.)"""
    script = """
import os
from scorelet.store.records import time_ordered_id
time_ordered_id(0.0)  # the page is filled and partly used
pid = os.fork()
ids = " ".join(time_ordered_id(0.0) for _ in range(5))
if pid == 0:
    print("child", ids, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent", ids, flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    ids = {line.split()[0]: set(line.split()[1:]) for line in done.stdout.splitlines()}
    assert len(ids["child"]) == len(ids["parent"]) == 5
    assert not ids["child"] & ids["parent"]


# -- comments -----------------------------------------------------------------------------------


async def test_a_comment_is_set_and_cleared_without_moving_a_count(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    response = (await store.record_response(rating(touchpoint, 2))).response
    scored = store.scored_at(touchpoint.id)
    updated = await store.update_comment(response.id, "too slow", touchpoint.id, None, 3600)
    assert (updated.comment, updated.score) == ("too slow", 2)
    assert store.scored_at(touchpoint.id) == scored
    await store.update_comment(response.id, None, touchpoint.id, None, 3600)
    stored = await store.response(response.id)
    assert stored is not None
    assert stored.comment is None
    await assert_rollups_exact(store)


async def test_a_comment_needs_the_same_touchpoint_subject_and_window(
    store: Store, clock: Clock
) -> None:
    touchpoint = await add_touchpoint(store)
    other = await add_touchpoint(store, "other")
    response = (await store.record_response(rating(touchpoint, 2, subject="conv-1"))).response
    anonymous = (await store.record_response(rating(touchpoint, 3))).response
    for response_id, touchpoint_id, subject, error, code in [
        (response.id, other.id, None, Refused, "token_mismatch"),
        (response.id, touchpoint.id, "conv-2", Refused, "token_mismatch"),
        (str(uuid.uuid4()), touchpoint.id, None, NotFound, None),
    ]:
        with pytest.raises(error) as caught:
            await store.update_comment(response_id, "hi", touchpoint_id, subject, None)
        assert getattr(caught.value, "code", None) == code
    assert (await store.update_comment(response.id, "hi", touchpoint.id, "conv-1", 0)).comment
    clock.now += 3601
    with pytest.raises(Refused) as late:
        await store.update_comment(anonymous.id, "late", touchpoint.id, None, 3600)
    assert late.value.code == "edit_window_closed"


# -- touchpoints and keys -------------------------------------------------------------------------


async def test_create_touchpoint_returns_and_remembers_it(store: Store) -> None:
    touchpoint = await add_touchpoint(store, "checkout", scale="smileys3", origins=["https://a.b"])
    assert (touchpoint.slug, touchpoint.scale.name, touchpoint.satisfied_from) == (
        "checkout",
        "smileys3",
        3,
    )
    assert touchpoint.origins == ("https://a.b",)
    assert (touchpoint.token_version, touchpoint.active) == (1, True)
    assert store.touchpoint("checkout") == touchpoint == store.touchpoint_by_id(touchpoint.id)
    with pytest.raises(AlreadyExists):
        await add_touchpoint(store, "checkout")


async def test_update_touchpoint_changes_and_rotates(store: Store) -> None:
    created = await add_touchpoint(store)
    updated = await store.update_touchpoint(
        "checkout", {"question": "Better?", "active": False, "origins": ["https://x.y"]}
    )
    assert (updated.question, updated.active, updated.origins) == (
        "Better?",
        False,
        ("https://x.y",),
    )
    assert store.touchpoint("checkout") == updated
    rotated = await store.update_touchpoint("checkout", {}, rotate_token=True)
    assert rotated.token_version == created.token_version + 1
    with pytest.raises(NotFound):
        await store.update_touchpoint("nope", {"question": "Q"})


async def test_a_slug_used_again_never_takes_the_old_tokens_version(store: Store) -> None:
    first = await add_touchpoint(store)
    await store.update_touchpoint("checkout", {}, rotate_token=True)
    await store.delete_touchpoint("checkout")
    second = await add_touchpoint(store)
    assert second.token_version == first.token_version + 2
    assert (await add_touchpoint(store, "other")).token_version == 1


async def test_delete_touchpoint_removes_its_ratings_and_rollups(store: Store) -> None:
    doomed = await add_touchpoint(store, "doomed")
    kept = await add_touchpoint(store, "kept")
    for touchpoint in (doomed, kept):
        await store.record_response(rating(touchpoint, 5, context={"agent": "a"}))
        await store.record_response(rating(touchpoint, 3, subject="s"))
        await store.record_impression(touchpoint.id)
    await store.backend.fold()
    await store.record_response(rating(doomed, 1))  # one unfolded too
    await store.delete_touchpoint("doomed")
    assert store.touchpoint("doomed") is None
    assert (await store.recount(doomed.id)).stored == {
        name: {} for name in (await store.recount(doomed.id)).recounted
    }
    assert (await store.counts(kept.id))[0] == {5: 1, 3: 1}
    await assert_rollups_exact(store)
    with pytest.raises(NotFound):
        await store.delete_touchpoint("doomed")
    again = await add_touchpoint(store, "doomed")  # a new touchpoint starts empty
    assert await store.counts(again.id, T0 - DAY, T0 + DAY) == ({}, Displays())


async def test_api_keys_are_stored_hashed_and_revoked_once(store: Store) -> None:
    key, full_key = await store.create_api_key("read", "dashboard")
    assert api_key_id(full_key) == key.id
    assert api_key_matches(full_key, key.hash)
    assert full_key not in repr(key)
    assert store.api_key(key.id) == key
    revoked = await store.revoke_api_key(key.id)
    assert revoked.revoked_at is not None
    assert store.api_key(key.id) == revoked
    for key_id in (key.id, "deadbeef"):
        with pytest.raises(NotFound):
            await store.revoke_api_key(key_id)


# -- the cache above storage, and lifecycle ---------------------------------------------------


async def test_in_memory_totals_follow_every_change(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_response(rating(touchpoint, 2, subject="c1"))
    await store.record_response(rating(touchpoint, 5, subject="c1"))  # change of mind
    doomed = await store.record_response(rating(touchpoint, 1))
    await store.record_response(rating(touchpoint, 4))
    await store.delete_response(doomed.response.id)
    await store.record_impression(touchpoint.id)
    assert store.totals(touchpoint.id) == ({4: 1, 5: 1}, Displays(1))
    assert store.received[touchpoint.id] == {2: 1, 5: 1, 1: 1, 4: 1}  # every rating received


async def test_generations_move_only_when_numbers_or_listings_change(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    scored = store.scored_at(touchpoint.id)
    response = (await store.record_response(rating(touchpoint, 3))).response
    assert store.scored_at(touchpoint.id) > scored
    scored, listed = store.scored_at(touchpoint.id), store.listed_at(touchpoint.id)
    await store.update_comment(response.id, "ok", touchpoint.id, None, None)
    assert store.scored_at(touchpoint.id) == scored  # a comment moves no number
    assert store.listed_at(touchpoint.id) > listed
    await store.record_response(rating(touchpoint, 3, id=response.id))  # same score again
    assert store.scored_at(touchpoint.id) == scored
    await store.record_response(rating(touchpoint, 3, id=response.id, context={"agent": "x"}))
    assert store.scored_at(touchpoint.id) > scored  # a new context moves breakdowns


async def test_wait_for_change_wakes_on_a_commit(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    waiter = asyncio.create_task(store.wait_for_change(10))
    await asyncio.sleep(0)
    await store.record_response(rating(touchpoint, 5))
    assert await waiter is True
    assert await store.wait_for_change(0.05) is False


async def test_close_commits_writes_still_in_the_queue(kind: str, tmp_path: Path) -> None:
    store = await open_store(kind, tmp_path)
    touchpoint = await add_touchpoint(store)
    pending = [
        asyncio.create_task(store.record_response(rating(touchpoint, 1 + i % 5))) for i in range(50)
    ]
    await asyncio.sleep(0)  # every write is queued
    await store.close()
    assert all(task.done() and task.exception() is None for task in pending)
    reopened = await open_store(kind, tmp_path)
    try:
        assert sum((await reopened.counts(touchpoint.id))[0].values()) == 50
        await assert_rollups_exact(reopened)
    finally:
        await reopened.close()


async def test_writing_after_close_is_unavailable(kind: str, tmp_path: Path) -> None:
    store = await open_store(kind, tmp_path)
    await store.close()
    with pytest.raises(Unavailable):
        await store.record_impression(1)


async def test_a_write_queued_during_the_final_commit_finishes(kind: str, tmp_path: Path) -> None:
    store = await open_store(kind, tmp_path)
    touchpoint = await add_touchpoint(store)
    first = asyncio.create_task(store.record_response(rating(touchpoint, 5)))
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)
    late = asyncio.create_task(store.record_response(rating(touchpoint, 4)))
    await first
    await closing
    done, _ = await asyncio.wait({late}, timeout=5)  # committed or refused, but finished
    assert late in done


async def test_another_processs_changes_are_picked_up(kind: str, tmp_path: Path) -> None:
    server = await open_store(kind, tmp_path)
    try:
        cli = await open_store(kind, tmp_path)
        try:
            touchpoint = await add_touchpoint(cli, "from-cli")
            key, _ = await cli.create_api_key("read", "cli key")
            await cli.record_response(rating(touchpoint, 4))
        finally:
            await cli.close()
        await server.refresh_if_changed()
        found = server.touchpoint("from-cli")
        assert found is not None
        assert server.api_key(key.id) is not None
        assert server.totals(found.id) == ({4: 1}, Displays())
        assert server.scored_at(found.id) > 0
        cli = await open_store(kind, tmp_path)
        try:
            await cli.delete_touchpoint("from-cli")
        finally:
            await cli.close()
        await server.maintain()
        assert server.touchpoint("from-cli") is None
    finally:
        await server.close()


# -- copies ------------------------------------------------------------------------------


async def test_a_restored_registry_keeps_the_higher_token_version_and_revocations(
    kind: str, tmp_path: Path
) -> None:
    (tmp_path / "source").mkdir()
    (tmp_path / "target").mkdir()
    source = await open_store(kind, tmp_path / "source")
    target = await open_store(kind, tmp_path / "target")
    try:
        await add_touchpoint(source, "checkout", brand_name="Acme")
        await source.update_touchpoint("checkout", {}, rotate_token=True)
        await add_touchpoint(source, "gone")
        await source.delete_touchpoint("gone")
        key, _ = await source.create_api_key("read", "copied")
        await source.revoke_api_key(key.id)
        registry = await source.registry()
        assert registry.retired == {"gone": 1}
        await add_touchpoint(target, "checkout", question="Kept?")
        for _ in range(2):  # twice: the second changes nothing
            await target.restore_registry(registry)
        copied = target.touchpoint("checkout")
        assert copied is not None
        assert copied.token_version == 2
        assert copied.question == "Kept?"  # a touchpoint already there keeps its settings
        assert [k.revoked_at is not None for k in target.api_keys()] == [True]
        again = await add_touchpoint(target, "gone")
        assert again.token_version == 2
        await add_touchpoint(target, "fresh")
        new = await target.registry()
        assert {tp.slug for tp in new.touchpoints} == {"checkout", "gone", "fresh"}
    finally:
        await source.close()
        await target.close()


async def test_restored_impressions_count_once_however_often(store: Store, clock: Clock) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_impression(touchpoint.id)
    hour = int(clock() // 3600)
    for _ in range(2):
        await store.restore_impressions(touchpoint.id, [(hour, 3), (hour - 5, 2)])
    assert await store.impression_hours(touchpoint.id) == [(hour - 5, 2), (hour, 3)]
    assert store.totals(touchpoint.id)[1].impressions == 5
    await store.maintain()
    assert await store.impression_hours(touchpoint.id) == [(hour - 5, 2), (hour, 3)]
    await assert_rollups_exact(store)


# -- comments: what the dashboard's comment filters read -------------------------------------


async def test_commented_reads_only_commented_ratings_in_the_window(
    store: Store, clock: Clock
) -> None:
    touchpoint = await add_touchpoint(store)
    given = [
        (T0 + 10, 5, "Quick and easy", {"agent": "alice"}),
        (T0 + 20, 1, "Checkout was SLOW", {"agent": "bob"}),
        (T0 + 30, 2, None, {"agent": "bob"}),
        (T0 + DAY + 5, 4, "slow but fine", {"agent": "alice"}),
    ]
    for at, score, comment, context in given:
        clock.now = at
        await store.record_response(rating(touchpoint, score, comment=comment, context=context))
    found = await store.commented(touchpoint.id)
    assert sorted(row.score for row in found) == [1, 4, 5]
    assert {row.context["agent"] for row in found} == {"alice", "bob"}
    window = await store.commented(touchpoint.id, T0, T0 + DAY)
    assert sorted(row.score for row in window) == [1, 5]
    assert [r.score for r in await store.commented(touchpoint.id, search=("slow",))] in (
        [1, 4],
        [4, 1],
    )
    bob = await store.commented(touchpoint.id, filters={"agent": "bob"}, search=("slow",))
    assert [row.score for row in bob] == [1]
    assert await store.commented(touchpoint.id, search=("slow", "easy")) == []


async def test_a_search_ignores_case_in_any_script(store: Store) -> None:
    touchpoint = await add_touchpoint(store)
    for comment in ("Über schnell", "STRASSE gesperrt", "nothing here", None):
        await store.record_response(rating(touchpoint, 3, comment=comment))
    listed = await store.list_responses(ResponseQuery(touchpoint.id, search=("über",)), limit=10)
    assert [r.comment for r in listed] == ["Über schnell"]
    folded = await store.list_responses(
        ResponseQuery(touchpoint.id, search=("straße".casefold(),)), limit=10
    )
    assert [r.comment for r in folded] == ["STRASSE gesperrt"]
    everything_said = await store.list_responses(
        ResponseQuery(touchpoint.id, has_comment=True), limit=10
    )
    assert len(everything_said) == 3


async def test_a_search_pages_through_many_comments_that_dont_match(store: Store) -> None:
    """Matches few and far between, behind more non-matching comments than one read takes:
    keyset pages of a search still list every match once, newest first."""
    touchpoint = await add_touchpoint(store)
    ratings = [
        Response(
            str(uuid.uuid4()),
            touchpoint.id,
            3,
            f"Ärger number {n}" if n % 700 == 0 else f"fine {n}",
            None,
            {},
            T0 + n,
            T0 + n,
        )
        for n in range(2_200)
    ]
    await store.import_ratings(ratings)
    query = ResponseQuery(touchpoint.id, search=("ärger",))
    pages: list[list[int]] = []
    after: tuple[float, str] | None = None
    while True:
        page = await store.list_responses(query, limit=2, after=after)
        pages.append([int(r.created_at - T0) for r in page])
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].id)
    assert pages == [[2100, 1400], [700, 0], []]
    assert [len(p) for p in [await everything(store, touchpoint)]] == [2_200]


async def test_another_processs_setting_is_picked_up(kind: str, tmp_path: Path) -> None:
    server = await open_store(kind, tmp_path)
    try:
        cli = await open_store(kind, tmp_path)
        try:
            await cli.save_setting("recontact-days", "45")
        finally:
            await cli.close()
        await server.refresh_if_changed()
        assert server.settings() == {"recontact-days": "45"}
    finally:
        await server.close()


# -- dashboard accounts ----------------------------------------------------------------------


async def test_users_are_created_found_updated_and_removed(store: Store) -> None:
    made = await store.create_user("ana@example.com", "admin", None)
    assert made.session_version == 1
    assert await store.user(made.id) == made
    assert await store.user_by_email("ana@example.com") == made
    assert await store.user_by_email("nobody@example.com") is None
    with pytest.raises(AlreadyExists):
        await store.create_user("ana@example.com", "viewer", None)
    changed = await store.update_user(made.id, {"password_hash": "h1"})
    assert (changed.password_hash, changed.session_version) == ("h1", 1)
    ended = await store.update_user(made.id, {"role": "viewer"}, end_sessions=True)
    assert (ended.role, ended.session_version) == ("viewer", 2)
    second = await store.create_user("bo@example.com", "viewer", "h2")
    assert [user.email for user in await store.users()] == ["ana@example.com", "bo@example.com"]
    assert await store.delete_user(made.id) == ended
    assert await store.user(made.id) is None
    assert [user.id for user in await store.users()] == [second.id]
    with pytest.raises(NotFound):
        await store.delete_user(made.id)
    with pytest.raises(NotFound):
        await store.update_user(made.id, {"role": "admin"})


async def test_users_survive_a_restart(kind: str, tmp_path: Path) -> None:
    store = await open_store(kind, tmp_path)
    made = await store.create_user("ana@example.com", "viewer", "hash")
    await store.close()
    store = await open_store(kind, tmp_path)
    try:
        assert await store.user(made.id) == made
    finally:
        await store.close()


# -- identified people ------------------------------------------------------------------------

ANN = Identity("ann", {"plan": "pro"})


async def test_a_persons_answers_displays_and_dismissals_are_seen_per_touchpoint(
    store: Store, clock: Clock
) -> None:
    checkout = await add_touchpoint(store, "checkout")
    nps = await add_touchpoint(store, "nps")
    await store.record_impression(checkout.id, ANN)
    clock.now += 60
    await store.record_response(rating(checkout, 5, identity=ANN, shown=True))
    clock.now += 60
    await store.record_impression(nps.id, ANN)
    await store.record_dismissal(nps.id, ANN)
    await store.record_impression(nps.id)  # anonymous: counted, kept for nobody
    seen = await store.seen("ann")
    assert seen[checkout.id] == Seen(
        answers=1, last_answer_at=T0 + 60, displays=1, last_display_at=T0
    )
    assert seen[nps.id] == Seen(
        displays=1, last_display_at=T0 + 120, dismissals=1, last_dismissal_at=T0 + 120
    )
    assert await store.seen("bob") == {}
    assert store.totals(nps.id) == ({}, Displays(impressions=2)), "a close is never an answer"
    assert store.totals(checkout.id) == ({5: 1}, Displays(impressions=1, answered=1))


async def test_a_persons_history_lists_traits_ratings_and_displays(
    store: Store, clock: Clock
) -> None:
    checkout = await add_touchpoint(store, "checkout")
    await store.record_impression(checkout.id, ANN)
    clock.now += 10
    given = await store.record_response(rating(checkout, 4, identity=Identity("ann", {"a": "b"})))
    assert given.response.person == "ann"
    history = await store.history("ann")
    assert history.person == Person("ann", {"a": "b"}, T0, T0 + 10), "the latest traits"
    assert [(r.id, r.person) for r in history.responses] == [(given.response.id, "ann")]
    assert history.displays == [Display(checkout.id, "shown", T0)]
    assert (await store.history("nobody")).person is None


async def test_forgetting_a_person_leaves_every_count_as_if_they_never_rated(
    kind: str, tmp_path: Path, clock: Clock
) -> None:
    """Erasure goes through the delete path: the fold takes the ratings out of every rollup,
    and the impressions the person's displays counted as go too."""
    (tmp_path / "all").mkdir()
    (tmp_path / "others").mkdir()
    store = await open_store(kind, tmp_path / "all", clock)
    others = await open_store(kind, tmp_path / "others", clock)
    try:
        tps = [await add_touchpoint(s, "nps", metric="nps") for s in (store, others)]
        random.seed(17)
        for step in range(120):
            clock.now = T0 + step * 1800
            score, context = random.randint(0, 10), {"agent": random.choice("xyz")}
            person = random.choice([ANN, None, Identity("bob")])
            await store.record_impression(tps[0].id, person)
            await store.record_response(
                rating(tps[0], score, context=context, identity=person, shown=True)
            )
            if person is not ANN:
                await others.record_impression(tps[1].id, person)
                await others.record_response(
                    rating(tps[1], score, context=context, identity=person, shown=True)
                )
        await store.maintain()  # fold the ratings first: erasure must take them back out
        gone = await store.forget_person("ann")
        assert gone.responses
        assert all(r.person == "ann" for r in gone.responses)
        for s in (store, others):
            await s.maintain()
        await assert_rollups_exact(store)
        windows = [(None, None), (T0, T0 + DAY), (T0 + 3 * HOUR + 7, T0 + 2 * DAY + 11)]
        for since, until in windows:
            for filters in ({}, {"agent": "x"}):
                assert await store.counts(tps[0].id, since, until, filters) == (
                    await others.counts(tps[1].id, since, until, filters)
                )
        assert store.totals(tps[0].id) == others.totals(tps[1].id)
        assert await store.breakdown(tps[0].id, "agent") == await others.breakdown(
            tps[1].id, "agent"
        )
        assert await store.seen("ann") == {}
        history = await store.history("ann")
        assert (history.person, history.responses, history.displays) == (None, [], [])
        assert await store.seen("bob") != {}, "only that person is forgotten"
    finally:
        await store.close()
        await others.close()


async def test_forgetting_before_the_fold_takes_back_unfolded_impressions(
    store: Store, clock: Clock
) -> None:
    touchpoint = await add_touchpoint(store)
    await store.record_impression(touchpoint.id, ANN)
    await store.record_impression(touchpoint.id)
    await store.maintain()  # one display folded, the next ones not
    clock.now += HOUR
    await store.record_impression(touchpoint.id, ANN)
    await store.record_response(rating(touchpoint, 4, identity=ANN, shown=True))
    gone = await store.forget_person("ann")
    assert gone.impressions == {touchpoint.id: 2}
    expected = ({}, Displays(impressions=1))
    assert store.totals(touchpoint.id) == expected
    assert await store.counts(touchpoint.id, T0, T0 + DAY) == expected
    await store.maintain()
    await store.refresh_if_changed()
    assert store.totals(touchpoint.id) == expected
    assert await store.counts(touchpoint.id, T0 - DAY, T0 + DAY) == expected
    await assert_rollups_exact(store)


async def test_a_refused_rating_keeps_no_traits(store: Store) -> None:
    checkout = await add_touchpoint(store, "checkout")
    other = await add_touchpoint(store, "other")
    theirs = await store.record_response(rating(other, 2))
    with pytest.raises(Refused):
        await store.record_response(rating(checkout, 5, id=theirs.response.id, identity=ANN))
    assert (await store.history("ann")).person is None


async def test_settings_are_kept_and_seen_by_a_reopened_store(kind: str, tmp_path: Path) -> None:
    first = await open_store(kind, tmp_path)
    await first.save_setting("recontact-days", "30")
    assert first.settings() == {"recontact-days": "30"}
    await first.close()
    second = await open_store(kind, tmp_path)
    try:
        assert second.settings() == {"recontact-days": "30"}
    finally:
        await second.close()


async def test_a_touchpoints_policy_is_stored(store: Store) -> None:
    touchpoint = await add_touchpoint(
        store,
        recontact_days=90,
        max_displays=3,
        sample=12.5,
        anniversary_window=7,
        trigger="event:ticket_closed",
        require_identity=True,
    )
    assert touchpoint.policy == Policy(
        recontact_days=90,
        max_displays=3,
        sample=12.5,
        anniversary_window=7,
        trigger="event:ticket_closed",
        require_identity=True,
    )
    assert store.touchpoint("checkout") == touchpoint
