"""The delivery worker that runs inside `scorelet serve`.

Every second it queues digests whose period has come and claims due
deliveries (a lease: another process never holds the same ones), then
sends them in one lane per destination: a lane sends its deliveries one at
a time (Slack's one message per second per webhook is kept there), while
destinations whose lane is busy are left out of the next claim, so a hung
or slow receiver holds only its own deliveries and never the others'. The
leases of what is being sent are renewed while it is; a worker that dies
lets them lapse and the next claim (here, or in another process) takes
them up. Ingest never waits on any of it: ratings only write their
deliveries, in their own transaction, and a lane holds back (up to a
second per delivery) while writes wait for their commit, so under a burst
the sending waits for ingest rather than the other way round (on one core,
sending as fast as ratings come would cost ingest a quarter of its rate:
bench/routing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scorelet.routing import messages
from scorelet.routing.admin import Routing, rating_view
from scorelet.routing.retries import MAX_TIMEOUT, SCHEDULE, next_attempt
from scorelet.routing.sender import Answer, Sender
from scorelet.store import StorageError, Store
from scorelet.store.records import Claimed, Outcome

log = logging.getLogger("scorelet.deliveries")
POLL = 1.0
CLAIM = 50
SLACK_INTERVAL = 1.0  # Slack takes one message per second per incoming webhook
# Ingest first: while writes wait for their commit, a lane waits (a little at a time, at
# most YIELD_MAX per delivery), so sending never takes the core from ingest for long.
YIELD_STEP = 0.02
YIELD_MAX = 1.0
# A receiver's Retry-After holds its whole lane, not just the one delivery; beyond this the
# lane stops and its other deliveries wait for the next claim.
MAX_PAUSE = 60.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    lease: float = 30.0
    schedule: tuple[float, ...] = SCHEDULE
    timeout: float = MAX_TIMEOUT
    allow_private: bool = False


class Worker:
    def __init__(
        self,
        store: Store,
        routing: Routing,
        settings: WorkerSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.routing = routing
        self.settings = settings
        self.sender = Sender(settings.allow_private, settings.timeout)
        self._monotonic = monotonic
        self._lanes: dict[int, asyncio.Task[None]] = {}
        self._sending: set[str] = set()
        self._last_sent: dict[int, float] = {}
        self._not_before: dict[int, float] = {}  # a receiver's Retry-After, per destination
        self._wake = asyncio.Event()

    async def run(self) -> None:
        renewing = asyncio.create_task(self._renew(), name="scorelet-delivery-leases")
        try:
            while True:
                try:
                    await self.routing.queue_due_digests(self.store.clock())
                    await self.tick()
                except StorageError as error:
                    log.warning("deliveries: %s", error)
                except Exception:
                    log.exception("the delivery worker hit an unexpected error")
                with contextlib.suppress(TimeoutError):  # (not wait_for: it can eat a cancel)
                    async with asyncio.timeout(POLL):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            renewing.cancel()
            for lane in self._lanes.values():
                lane.cancel()
            await asyncio.gather(renewing, *self._lanes.values(), return_exceptions=True)
            await self.sender.close()

    async def tick(self) -> int:
        """Claim what is due for destinations not busy now and start their lanes."""
        waiting = {d for d, until in self._not_before.items() if until > self._monotonic()}
        busy = sorted({d for d, lane in self._lanes.items() if not lane.done()} | waiting)
        claimed = await self.store.claim_deliveries(CLAIM, self.settings.lease, busy)
        by_destination: dict[int, list[Claimed]] = {}
        for item in claimed:
            by_destination.setdefault(item.destination.id, []).append(item)
            self._sending.add(item.delivery.id)
        for destination_id, items in by_destination.items():
            self._lanes[destination_id] = asyncio.create_task(
                self._lane(destination_id, items), name=f"scorelet-lane-{destination_id}"
            )
        return len(claimed)

    async def _lane(self, destination_id: int, items: Sequence[Claimed]) -> None:
        try:
            for item in items:
                pause = self._not_before.get(destination_id, 0.0) - self._monotonic()
                if pause > MAX_PAUSE:  # back later: the leases lapse and a later claim takes them
                    break
                if pause > 0:
                    await asyncio.sleep(pause)
                if item.destination.kind == "slack":
                    last = self._last_sent.get(destination_id)
                    if last is not None:
                        await asyncio.sleep(max(0.0, last + SLACK_INTERVAL - self._monotonic()))
                await self._yield_to_ingest()
                wait: float | None = None
                try:
                    outcome, wait = await self.attempt(item)
                except Exception as error:  # a bug must not strand the delivery in its lease
                    log.exception("sending delivery %s failed unexpectedly", item.delivery.id)
                    outcome = outcome_of(
                        Answer(False, error=f"internal error: {type(error).__name__}"),
                        item.delivery.attempts,
                        self.store.clock(),
                        self.settings.schedule,
                    )
                self._last_sent[destination_id] = self._monotonic()
                if wait:
                    self._not_before[destination_id] = self._monotonic() + wait
                try:
                    await self.store.finish_delivery(item.delivery.id, outcome)
                except StorageError as error:  # the lease lapses and it is tried again
                    log.warning("deliveries: can't record an attempt: %s", error)
                finally:
                    self._sending.discard(item.delivery.id)
                if outcome.state != "delivered":
                    log.warning(
                        "delivery %s to %s failed: %s", item.delivery.id, item.destination.name,
                        outcome.error,
                    )  # fmt: skip
        finally:
            for item in items:
                self._sending.discard(item.delivery.id)
            self._wake.set()

    async def _yield_to_ingest(self) -> None:
        waited = 0.0
        while self.store.health().queue_depth and waited < YIELD_MAX:
            await asyncio.sleep(YIELD_STEP)
            waited += YIELD_STEP

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease / 3)
            if self._sending:
                try:
                    await self.store.renew_deliveries(sorted(self._sending), self.settings.lease)
                except StorageError as error:
                    log.warning("deliveries: can't renew leases: %s", error)

    async def attempt(self, item: Claimed) -> tuple[Outcome, float | None]:
        """One attempt: how it went, and how long the receiver asked us to wait (Retry-After)."""
        delivery, destination = item.delivery, item.destination
        now = self.store.clock()
        message = self.message(item, now)
        if message is None:
            return Outcome("dead", error="the rating was deleted before it could be sent"), None
        answer = await self.sender.deliver(
            destination, delivery.id, message, now, lookup_first=destination.kind == "linear"
        )
        outcome = outcome_of(answer, delivery.attempts, self.store.clock(), self.settings.schedule)
        return outcome, answer.retry_after

    def message(self, item: Claimed, now: float) -> dict[str, Any] | None:
        delivery, destination = item.delivery, item.destination
        if delivery.kind == "digest":
            content = json.loads(item.payload or "{}")
            if destination.kind == "slack":
                return messages.slack_digest(content)
            return messages.webhook_payload("digest", delivery.id, now, {"digest": content})
        response = item.response
        touchpoint = self.store.touchpoint_by_id(response.touchpoint_id) if response else None
        if response is None or touchpoint is None:
            return None
        view = rating_view(response, touchpoint, self.routing.base_url)
        if destination.kind == "slack":
            return messages.slack_rating(view, delivery.rule)
        if destination.kind == "linear":
            assert destination.team is not None
            data = messages.linear_input(
                view, delivery.rule, delivery.id, destination.team, destination.priority, ()
            )
            return {**data, "labels": list(destination.labels)}
        data = {"rule": delivery.rule, "rating": messages.rating_data(view)}
        return messages.webhook_payload(f"rating.{delivery.event}", delivery.id, now, data)


def outcome_of(
    answer: Answer, attempts: int, now: float, schedule: Sequence[float] = SCHEDULE
) -> Outcome:
    """Delivered; dead with the destination disabled (410); failed until the schedule ends."""
    if answer.ok:
        return Outcome("delivered", answer.status, issue=answer.issue)
    if answer.gone:
        return Outcome(
            "dead", answer.status, answer.error, disable="the receiver answered 410 Gone"
        )
    retry_at = next_attempt(attempts + 1, now, schedule, answer.retry_after)
    if retry_at is None:
        return Outcome("dead", answer.status, answer.error)
    return Outcome("failed", answer.status, answer.error, retry_at)
