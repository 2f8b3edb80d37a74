"""The storage contract for tags, rules, destinations, the outbox and digests, on every backend.

Like test_store_contract.py, everything is read back through `Store`: these
run unchanged on each backend in tests/backends.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from backends import BACKENDS, open_store
from scorelet.routing.destinations import NewDestination
from scorelet.routing.rules import parse_rule
from scorelet.store import NewResponse, NotFound, Refused, Response, ResponseQuery, Store
from scorelet.store.errors import AlreadyExists
from scorelet.store.records import Digest, Identity, IssueLink, Outcome
from scorelet.timeutil import DAY
from scorelet.touchpoints import Touchpoint, new_touchpoint_fields

T0 = 1_700_006_400.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

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


async def touchpoint(store: Store, slug: str = "checkout", metric: str = "csat") -> Touchpoint:
    return await store.create_touchpoint(new_touchpoint_fields({"slug": slug, "metric": metric}))


async def slack(store: Store, name: str = "fires") -> None:
    await store.create_destination(NewDestination(name, "slack", "https://hooks.example/x"))


async def rule(store: Store, **body: Any) -> None:
    await store.create_rule(parse_rule(body))


async def rate(store: Store, tp: Touchpoint, score: int, **kwargs: Any) -> Any:
    kwargs.setdefault("comment", None)
    kwargs.setdefault("subject", None)
    return (await store.record_response(NewResponse(tp.id, score, **kwargs))).response


async def test_a_rating_is_tagged_and_queued_in_its_own_write(store: Store) -> None:
    tp = await touchpoint(store)
    await slack(store)
    await rule(store, name="billing", comment_matches="refund|charged", add_tags=["Billing"])
    await rule(store, name="fires", score="1..2", tag="Billing", notify=["fires"])
    stored = await rate(store, tp, 1, comment="I was CHARGED twice, want a Refund")
    assert [(t.name, t.source, t.rule, t.matched) for t in stored.tags] == [
        ("Billing", "rule", "billing", ("CHARGED", "Refund"))
    ]
    (queued,) = await store.deliveries()
    assert (queued.response_id, queued.state, queued.rule) == (stored.id, "pending", "fires")
    assert (await rate(store, tp, 2)).tags == ()  # no comment: no tag, so no notification
    assert len(await store.deliveries()) == 1


async def test_matching_is_unicode_aware_and_case_insensitive(store: Store) -> None:
    tp = await touchpoint(store)
    await rule(store, name="anger", comment_matches="ärger|café", add_tags=["Ärger"])
    stored = await rate(store, tp, 1, comment="So viel ÄRGER im CAFE\u0301")  # decomposed é
    assert stored.tags[0].matched == ("ÄRGER", "CAFÉ")


async def test_a_comment_change_retags_and_a_replacement_keeps_the_comment(store: Store) -> None:
    tp = await touchpoint(store)
    await rule(store, name="billing", comment_matches="invoice", add_tags=["Billing"])
    first = await rate(store, tp, 2, client="c" * 20, comment="wrong invoice")
    assert [t.name for t in first.tags] == ["Billing"]
    await store.add_tag(first.id, "VIP")
    replaced = await rate(store, tp, 4, client="c" * 20)  # same browser: a replacement
    assert replaced.id == first.id
    assert replaced.comment == "wrong invoice"
    assert [t.name for t in replaced.tags] == ["Billing", "VIP"]
    assert (await store.counts(tp.id, T0 - DAY, T0 + DAY, tag="Billing"))[0] == {4: 1}
    edited = await store.update_comment(first.id, "all good now", tp.id, None, None)
    assert [t.name for t in edited.tags] == ["VIP"]  # the rule's tag left, the manual one stayed
    assert (await store.counts(tp.id, T0 - DAY, T0 + DAY, tag="Billing"))[0] == {}


async def test_tag_counts_match_a_recount_of_the_listing(store: Store, clock: Clock) -> None:
    tp = await touchpoint(store)
    await rule(store, name="lows", score="1..2", add_tags=["Low"])
    await rule(store, name="bugs", comment_matches="bug|crash", add_tags=["Bug"])
    for i in range(60):
        clock.now = T0 + i * 3000
        comment = "a crash" if i % 3 == 0 else None
        await rate(store, tp, 1 + i % 5, comment=comment, context={"team": "ab"[i % 2]})
    since, until = T0 + 10_000, T0 + 150_000
    for tag in ("Low", "Bug"):
        listed = [
            r
            async for page in store.iter_responses(ResponseQuery(tp.id, since, until, tag=tag))
            for r in page
        ]
        recount: dict[int, int] = {}
        for r in listed:
            assert tag in [t.name for t in r.tags]
            recount[r.score] = recount.get(r.score, 0) + 1
        assert (await store.counts(tp.id, since, until, tag=tag))[0] == recount
        team_a = sum(1 for r in listed if r.context["team"] == "a")
        filtered = await store.counts(tp.id, since, until, {"team": "a"}, tag)
        assert sum(filtered[0].values()) == team_a
    groups = await store.by_tag(tp.id, since, until)
    assert set(groups) == {"Low", "Bug"}
    spans = [(since + k * DAY / 2, since + (k + 1) * DAY / 2) for k in range(3)]
    per_bucket = await store.tag_series(tp.id, spans)
    assert sum(b.get("Bug", 0) for b in per_bucket) == sum(
        sum(c.values()) for c in [(await store.counts(tp.id, s, e, tag="Bug"))[0] for s, e in spans]
    )


async def test_a_claimed_delivery_is_leased_to_one_caller_until_it_lapses(
    store: Store, clock: Clock
) -> None:
    tp = await touchpoint(store)
    await slack(store)
    await rule(store, name="all", notify=["fires"])
    await rate(store, tp, 3)
    first, second = await asyncio.gather(
        store.claim_deliveries(10, 30), store.claim_deliveries(10, 30)
    )
    assert len(first) + len(second) == 1
    assert await store.claim_deliveries(10, 30) == []
    clock.now += 31  # the holder died: its lease lapses
    (again,) = await store.claim_deliveries(10, 30)
    await store.finish_delivery(again.delivery.id, Outcome("failed", 503, "down", clock.now + 5))
    assert await store.claim_deliveries(10, 30) == []
    clock.now += 5
    (retried,) = await store.claim_deliveries(10, 30)
    assert retried.delivery.attempts == 1
    assert retried.response is not None
    assert retried.response.score == 3
    link = IssueLink("fires", "SUP-1", "https://linear.example/SUP-1")
    await store.finish_delivery(retried.delivery.id, Outcome("delivered", 200, issue=link))
    (done,) = await store.deliveries("delivered")
    assert done.attempts == 2
    listed = await store.list_responses(ResponseQuery(tp.id), 10)
    assert listed[0].issues == (link,)


async def test_busy_and_disabled_destinations_are_left_out_of_a_claim(store: Store) -> None:
    tp = await touchpoint(store)
    await slack(store, "one")
    await slack(store, "two")
    await rule(store, name="both", notify=["one", "two"])
    await rate(store, tp, 1)
    destinations = {d.name: d.id for d in await store.destinations()}
    (claimed,) = await store.claim_deliveries(10, 30, busy=[destinations["one"]])
    assert claimed.destination.name == "two"
    await store.finish_delivery(claimed.delivery.id, Outcome("dead", 410, "gone", disable="410"))
    assert [d.disabled_reason for d in await store.destinations()] == [None, "410"]
    (other,) = await store.claim_deliveries(10, 30)
    assert other.destination.name == "one"


async def test_a_claim_takes_the_deliveries_due_first_across_destinations(
    store: Store, clock: Clock
) -> None:
    """Each destination's due deliveries are read apart: the claim still hands out the
    `limit` due first over all of them, in due order."""
    tp = await touchpoint(store)
    await slack(store, "one")
    await slack(store, "two")
    await rule(store, name="both", notify=["one", "two"])
    for score in (1, 2, 3):
        await rate(store, tp, score)
        clock.now += 1
    claimed = await store.claim_deliveries(4, 30)
    due = [c.delivery.due_at for c in claimed]
    assert due == sorted(due)
    assert [c.response.score for c in claimed if c.response] == [1, 1, 2, 2]
    assert {c.destination.name for c in claimed} == {"one", "two"}
    rest = await store.claim_deliveries(4, 30)
    assert sorted((c.destination.name, c.response.score) for c in rest if c.response) == [
        ("one", 3),
        ("two", 3),
    ]


async def test_retry_sends_dead_deliveries_again(store: Store) -> None:
    tp = await touchpoint(store)
    await slack(store)
    await rule(store, name="all", notify=["fires"])
    await rate(store, tp, 1)
    (claimed,) = await store.claim_deliveries(10, 30)
    await store.finish_delivery(claimed.delivery.id, Outcome("dead", 500, "boom"))
    (retried,) = await store.retry_deliveries(None)
    assert (retried.state, retried.attempts, retried.last_error) == ("pending", 0, "boom")
    with pytest.raises(NotFound):
        await store.retry_deliveries([str(uuid.uuid4())])


async def test_rules_name_existing_destinations_and_keep_them(store: Store) -> None:
    with pytest.raises(Refused) as refused:
        await rule(store, name="lost", notify=["nowhere"])
    assert refused.value.code == "destination_not_found"
    assert await store.rules() == []
    await slack(store)
    await rule(store, name="kept", notify=["fires"])
    with pytest.raises(AlreadyExists):
        await rule(store, name="kept", notify=["fires"])
    with pytest.raises(Refused) as in_use:
        await store.remove_destination("fires")
    assert in_use.value.code == "destination_in_use"
    await store.remove_rule("kept")
    await store.remove_destination("fires")
    assert await store.destinations() == []


async def test_deleting_a_rating_takes_its_tags_and_deliveries(store: Store) -> None:
    tp = await touchpoint(store)
    await slack(store)
    await rule(store, name="all", notify=["fires"])
    stored = await rate(store, tp, 1)
    await store.add_tag(stored.id, "Spam")
    await store.delete_response(stored.id)
    assert await store.deliveries() == []
    assert (await store.counts(tp.id, None, None, tag="Spam"))[0] == {}


async def test_forgetting_a_person_takes_their_tags_and_unsent_deliveries(store: Store) -> None:
    tp = await touchpoint(store)
    await slack(store)
    await rule(store, name="all", notify=["fires"])
    ann = await rate(store, tp, 1, comment="call me", identity=Identity("ann"))
    bob = await rate(store, tp, 2, identity=Identity("bob"))
    await store.add_tag(ann.id, "Spam")
    await store.forget_person("ann")
    assert [d.response_id for d in await store.deliveries()] == [bob.id]
    assert (await store.counts(tp.id, None, None, tag="Spam"))[0] == {}


async def test_a_touchpoint_made_after_a_rule_is_routed_by_it(store: Store) -> None:
    await slack(store)
    await rule(store, name="all", notify=["fires"])
    first = await touchpoint(store)
    await rate(store, first, 2)
    second = await touchpoint(store, "signup")
    await rate(store, second, 3)
    assert len(await store.deliveries("pending")) == 2


async def test_deleting_a_touchpoint_takes_its_tags_and_deliveries(store: Store) -> None:
    await slack(store)
    await rule(store, name="all", notify=["fires"])
    tp = await touchpoint(store)
    stored = await rate(store, tp, 1)
    await store.add_tag(stored.id, "Spam")
    await store.delete_touchpoint(tp.slug)
    assert await store.deliveries() == []
    again = await touchpoint(store)
    assert await store.by_tag(again.id) == {}
    await rate(store, again, 1)
    assert len(await store.deliveries("pending")) == 1


async def test_backfill_tags_history_in_steps(store: Store, clock: Clock) -> None:
    tp = await touchpoint(store)
    for i in range(25):
        await rate(store, tp, 1 + i % 5, comment="slow page" if i % 2 else "fine")
    await rule(store, name="slow", comment_matches="slow", add_tags=["Speed"])
    cursor: int | None = 0
    seen = tagged = 0
    while cursor is not None:
        step = await store.backfill("slow", None, cursor, 10)
        seen, tagged, cursor = seen + step.seen, tagged + step.tagged, step.cursor
    assert (seen, tagged) == (25, 12)
    assert sum((await store.counts(tp.id, None, None, tag="Speed"))[0].values()) == 12
    again = await store.backfill("slow", None, 0, 100)  # idempotent
    assert sum((await store.counts(tp.id, None, None, tag="Speed"))[0].values()) == 12
    assert again.tagged == 12


async def test_a_backfill_sees_every_imported_rating_once(store: Store) -> None:
    tp = await touchpoint(store)
    await store.import_ratings(
        [
            Response(
                str(uuid.uuid4()), tp.id, 1 + i % 5, "slow" if i % 3 else None, None, {}, T0, T0
            )
            for i in range(25)
        ]
    )
    await rate(store, tp, 2, comment="slow")
    await rule(store, name="slow", comment_matches="slow", add_tags=["Speed"])
    cursor: int | None = 0
    seen = tagged = 0
    while cursor is not None:
        step = await store.backfill("slow", None, cursor, 10)
        seen, tagged, cursor = seen + step.seen, tagged + step.tagged, step.cursor
    assert (seen, tagged) == (26, 17)
    assert sum((await store.counts(tp.id, None, None, tag="Speed"))[0].values()) == 17


async def test_a_digest_period_is_queued_once(store: Store) -> None:
    await slack(store)
    digest = Digest(0, "weekly", "fires", "week", (), "UTC", "mon 09:00", "2023-W45", 0.0)
    await store.create_digest(digest)
    assert await store.queue_digest("weekly", "2023-W46", {"n": 1}, str(uuid.uuid4()))
    assert not await store.queue_digest("weekly", "2023-W46", {"n": 2}, str(uuid.uuid4()))
    assert not await store.queue_digest("weekly", "2023-W45", {"n": 3}, str(uuid.uuid4()))
    (queued,) = await store.deliveries()
    assert queued.kind == "digest"
    assert (await store.digests())[0].last_period == "2023-W46"


async def test_routing_survives_a_reopen(kind: str, tmp_path: Path) -> None:
    first = await open_store(kind, tmp_path)
    tp = await touchpoint(first)
    await slack(first)
    await rule(first, name="all", notify=["fires"])
    await first.close()
    second = await open_store(kind, tmp_path)
    try:
        await rate(second, tp, 2)
        assert len(await second.deliveries("pending")) == 1
        assert [r.name for r in await second.rules()] == ["all"]
    finally:
        await second.close()


# -- two processes on one database -----------------------------------------------------------


async def test_two_processes_never_claim_the_same_delivery(
    kind: str, tmp_path: Path, clock: Clock
) -> None:
    first = await open_store(kind, tmp_path, clock)
    second = await open_store(kind, tmp_path, clock)
    try:
        tp = await touchpoint(first)
        await slack(first)
        await rule(first, name="all", notify=["fires"])
        for score in range(24):
            await rate(first, tp, 1 + score % 5)
        claimed: list[str] = []
        while True:
            rounds = await asyncio.gather(
                *(store.claim_deliveries(2, 30) for store in (first, second, first, second))
            )
            found = [item.delivery.id for items in rounds for item in items]
            if not found:
                break
            claimed += found
        assert len(claimed) == len(set(claimed)) == 24
    finally:
        await second.close()
        await first.close()


async def test_a_rule_from_another_process_routes_the_next_rating(
    kind: str, tmp_path: Path, clock: Clock
) -> None:
    first = await open_store(kind, tmp_path, clock)
    second = await open_store(kind, tmp_path, clock)
    try:
        await touchpoint(first)
        await second.refresh_if_changed()
        tp = second.touchpoint("checkout")
        assert tp is not None
        assert (await rate(first, tp, 2, comment="slow")).tags == ()
        await rule(second, name="slow", comment_matches="slow", add_tags=["Speed"])
        tagged = await rate(first, tp, 2, comment="slow again")
        assert [t.name for t in tagged.tags] == ["Speed"]
    finally:
        await second.close()
        await first.close()


async def test_a_tag_from_another_process_moves_this_ones_numbers(
    kind: str, tmp_path: Path, clock: Clock
) -> None:
    first = await open_store(kind, tmp_path, clock)
    second = await open_store(kind, tmp_path, clock)
    try:
        tp = await touchpoint(first)
        stored = await rate(first, tp, 4)
        await second.refresh_if_changed()
        before = second.scored_at(tp.id)
        await first.add_tag(stored.id, "Praise")
        await second.refresh_if_changed()
        assert second.scored_at(tp.id) > before  # tag-filtered numbers are looked at again
        assert (await second.counts(tp.id, None, None, tag="Praise"))[0] == {4: 1}
        (listed,) = await second.list_responses(ResponseQuery(tp.id, tag="Praise"), 10)
        assert [t.name for t in listed.tags] == ["Praise"]
        await rule(first, name="slow", comment_matches="slow", add_tags=["Speed"])
        before = second.scored_at(tp.id)
        await first.update_comment(stored.id, "slow", tp.id, None, None)
        await second.refresh_if_changed()
        assert second.scored_at(tp.id) > before  # a comment's retagging moves them too
        assert (await second.counts(tp.id, None, None, tag="Speed"))[0] == {4: 1}
    finally:
        await second.close()
        await first.close()


async def test_two_processes_queue_a_digest_period_once(
    kind: str, tmp_path: Path, clock: Clock
) -> None:
    first = await open_store(kind, tmp_path, clock)
    second = await open_store(kind, tmp_path, clock)
    try:
        await slack(first)
        digest = Digest(0, "weekly", "fires", "week", (), "UTC", "mon 09:00", None, 0.0)
        await first.create_digest(digest)
        queued = await asyncio.gather(
            *(
                store.queue_digest("weekly", "2023-W46", {}, str(uuid.uuid4()))
                for store in (first, second, first, second)
            )
        )
        assert sorted(queued) == [False, False, False, True]
        assert len(await second.deliveries()) == 1
    finally:
        await second.close()
        await first.close()
