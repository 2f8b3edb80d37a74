"""Placeholders for issue 15's storage (tags, rules, destinations, deliveries, digests)
on PostgreSQL, until its port lands: reads find nothing, writes are refused.

Only here so a server on PostgreSQL runs (its delivery worker and dashboard
ask for these); the port of issue 15 replaces this module and the base class
of PostgresBackend that names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule
from scorelet.store.errors import Unavailable
from scorelet.store.records import Backfilled, Claimed, Delivery, Digest, Outcome, Response


def _missing() -> Unavailable:
    return Unavailable("tags, rules and deliveries are not stored on PostgreSQL yet")


class PendingRouting:
    async def tag_series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[dict[str, int]]:
        return [{} for _ in buckets]

    async def by_tag(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
    ) -> dict[str, dict[int, int]]:
        return {}

    async def add_tag(self, response_id: str, tag: str, now: float) -> Response:
        raise _missing()

    async def remove_tag(self, response_id: str, tag: str) -> Response:
        raise _missing()

    async def create_destination(self, new: NewDestination, now: float) -> Destination:
        raise _missing()

    async def destinations(self) -> list[Destination]:
        return []

    async def remove_destination(self, name: str) -> Destination:
        raise _missing()

    async def enable_destination(self, name: str) -> Destination:
        raise _missing()

    async def create_rule(self, rule: Rule) -> Rule:
        raise _missing()

    async def rules(self) -> list[Rule]:
        return []

    async def remove_rule(self, name: str) -> Rule:
        raise _missing()

    async def backfill(self, rule: str, since: float | None, cursor: int, limit: int) -> Backfilled:
        raise _missing()

    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float, busy: Sequence[int] = ()
    ) -> list[Claimed]:
        return []

    async def renew_deliveries(self, ids: Sequence[str], until: float) -> None:
        return None

    async def finish_delivery(self, delivery_id: str, outcome: Outcome, now: float) -> None:
        raise _missing()

    async def deliveries(
        self, state: str | None, destination: str | None, limit: int
    ) -> list[Delivery]:
        return []

    async def retry_deliveries(self, ids: Sequence[str] | None, now: float) -> list[Delivery]:
        return []

    async def create_digest(self, digest: Digest, now: float) -> Digest:
        raise _missing()

    async def digests(self) -> list[Digest]:
        return []

    async def remove_digest(self, name: str) -> Digest:
        raise _missing()

    async def queue_digest(
        self, name: str, period: str, payload: dict[str, Any], delivery_id: str, now: float
    ) -> bool:
        raise _missing()
