"""Use cases for closing the loop: destinations, rules, tags, deliveries and digests.

The HTTP handlers (api/routing.py) and the CLI call these, so a rule is
checked the same way whichever door it came in by. Input errors become
`Problem`s naming the field; storage refusals (a rule naming a missing
destination, a destination still in use) come from the store, checked in
the transaction that would have stored them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scorelet.errors import Problem, bad_query, invalid, touchpoint_not_found
from scorelet.ratings import Ratings, Window
from scorelet.routing import messages, periods, ssrf
from scorelet.routing.destinations import (
    Destination,
    DestinationError,
    parse_destination,
)
from scorelet.routing.rules import Rule, RuleError, parse_rule
from scorelet.routing.sender import Answer, Sender
from scorelet.routing.tags import TagError, check_tag
from scorelet.scales import scale_for
from scorelet.scoring import LEVEL
from scorelet.series import SeriesError, zone
from scorelet.shapes import NEW_DESTINATION, NEW_DIGEST
from scorelet.store import Response, Store
from scorelet.store.records import Delivery, Digest, time_ordered_id
from scorelet.timeutil import iso
from scorelet.touchpoints import Touchpoint

STATES = ("pending", "failed", "delivered", "dead")
TOP_TAGS = 3


def rating_view(response: Response, touchpoint: Touchpoint, base_url: str) -> messages.RatingView:
    group = {
        "nps": ("detractor", "passive", "promoter"),
        "csat": ("unsatisfied", "unsatisfied", "satisfied"),
    }[touchpoint.metric][touchpoint.group(response.score)]
    return messages.RatingView(
        id=response.id,
        touchpoint=touchpoint.slug,
        metric=touchpoint.metric,
        scale=touchpoint.scale.name,
        low=touchpoint.scale.low,
        high=touchpoint.scale.high,
        group=group,
        score=response.score,
        comment=response.comment,
        subject=response.subject,
        context=response.context,
        tags=[tag.name for tag in response.tags],
        created_at=response.created_at,
        updated_at=response.updated_at,
        url=f"{base_url}/api/v1/responses/{response.id}",
    )


class Routing:
    def __init__(self, ratings: Ratings, allow_private: bool, base_url: str) -> None:
        self.ratings = ratings
        self.store: Store = ratings.store
        self.allow_private = allow_private
        self.base_url = base_url

    # -- destinations --------------------------------------------------------------------------

    async def check_address(self, url: str, field: str) -> None:
        try:
            await ssrf.target(url, self.allow_private)
        except ssrf.AddressRefused as error:
            raise invalid(field, str(error), "destination_refused") from None

    async def add_destination(self, body: Mapping[str, Any]) -> Destination:
        """A new destination; its URL's addresses must pass the SSRF check."""
        try:
            new = parse_destination(NEW_DESTINATION.decode(body))
        except DestinationError as error:
            raise invalid(error.field, str(error), error.code) from None
        await self.check_address(new.url, "api_url" if new.kind == "linear" else "url")
        return await self.store.create_destination(new)

    async def destination(self, name: str) -> Destination:
        found = await self.store.destination(name)
        if found is None:
            raise Problem(
                404, "destination_not_found", f"no destination is named {name[:64]!r}", "name"
            )
        return found

    async def test(self, name: str) -> Answer:
        """Send a clearly marked test message now (not through the outbox)."""
        destination = await self.destination(name)
        sender = Sender(self.allow_private)
        now = time.time()
        delivery_id = "test_" + time_ordered_id(now)
        try:
            if destination.kind == "linear":
                query = "query ScoreletTest($team: String!) { team(id: $team) { id key name } }"
                answer, data = await sender.graphql(
                    destination, query, {"team": destination.team}, now
                )
                team = (data.get("data") or {}).get("team") if isinstance(data, dict) else None
                if answer.ok and not team:
                    return Answer(False, answer.status, answer.body, "Linear: no such team")
                return answer
            sample = rating_view(_sample(now), _sample_touchpoint(), self.base_url)
            if destination.kind == "slack":
                message = messages.slack_rating(sample, None, test=True)
            else:
                message = messages.webhook_payload(
                    "test", delivery_id, now, {"rule": None, "rating": messages.rating_data(sample)}
                )
            return await sender.deliver(destination, delivery_id, message, now)
        finally:
            await sender.close()

    # -- rules ---------------------------------------------------------------------------------

    async def add_rule(self, body: Mapping[str, Any]) -> Rule:
        try:
            rule = parse_rule(body, time.time())
        except RuleError as error:
            raise invalid(error.field, str(error), error.code) from None
        await self._named_touchpoints(rule.touchpoints)
        return await self.store.create_rule(rule)

    async def _named_touchpoints(self, slugs: Sequence[str]) -> None:
        """A body's `touchpoints` must each name one."""
        for slug in slugs:
            if await self.store.find_touchpoint(slug) is None:
                raise touchpoint_not_found(slug, "touchpoints")

    async def rule(self, name: str) -> Rule:
        found = next((r for r in await self.store.rules() if r.name == name), None)
        if found is None:
            raise Problem(404, "rule_not_found", f"no rule is named {name[:64]!r}", "name")
        return found

    async def backfill(
        self,
        name: str,
        since: float | None,
        progress: Callable[[int, int], None] | None = None,
        batch: int = 1000,
    ) -> tuple[int, int]:
        """Apply a tagging rule to stored ratings; returns (ratings seen, ratings tagged)."""
        await self.rule(name)
        seen = tagged = 0
        cursor: int | None = 0
        while cursor is not None:
            step = await self.store.backfill(name, since, cursor, batch)
            seen += step.seen
            tagged += step.tagged
            cursor = step.cursor
            if progress is not None:
                progress(seen, tagged)
        return seen, tagged

    # -- tags ------------------------------------------------------------------------------------

    async def add_tag(self, response_id: str, tag: Any) -> Response:
        return await self.store.add_tag(response_id, _tag(tag))

    async def remove_tag(self, response_id: str, tag: Any) -> Response:
        return await self.store.remove_tag(response_id, _tag(tag))

    # -- deliveries ------------------------------------------------------------------------------

    async def deliveries(
        self, state: str | None, destination: str | None, limit: int = 100
    ) -> list[Delivery]:
        if state is not None and state not in STATES:
            raise bad_query("state", f"state must be one of {', '.join(STATES)}")
        if destination is not None:
            await self.destination(destination)
        return await self.store.deliveries(state, destination, limit)

    # -- digests ---------------------------------------------------------------------------------

    async def add_digest(self, body: Mapping[str, Any]) -> Digest:
        new = NEW_DIGEST.decode(body)
        every = new.every or "week"
        try:
            at = periods.parse_at(every, new.at)
            tz = zone(new.tz or "UTC")
        except periods.PeriodError as error:
            raise invalid(error.field, str(error)) from None
        except SeriesError as error:
            raise invalid("tz", str(error)) from None
        touchpoints = new.touchpoints or []
        await self._named_touchpoints(touchpoints)
        at_text = (new.at or periods.DEFAULT_AT[every]).strip().lower()
        # The period already due when it is made is not sent: the first digest is the next.
        first = periods.due(every, tz, at, self.store.clock())
        digest = Digest(0, new.name, new.destination, every, tuple(dict.fromkeys(touchpoints)),
                        tz.key, at_text, first.key, 0.0)  # fmt: skip
        return await self.store.create_digest(digest)

    async def digest_content(self, digest: Digest, period: periods.Period) -> dict[str, Any]:
        """Each touchpoint's score over the period with its interval and n, the change from
        the period before (marked when the two intervals don't overlap), and top tags."""
        tz = zone(digest.tz)
        before = periods.before(digest.every, tz, period)
        ratings = self.ratings
        items = []
        touchpoints = [
            tp
            for tp in self.store.touchpoints()
            if not digest.touchpoints or tp.slug in digest.touchpoints
        ]
        for touchpoint in touchpoints:
            now_body = await ratings.score(touchpoint, Window(period.start, period.end))
            then_body = await ratings.score(touchpoint, Window(before.start, before.end))
            tags = await self.store.by_tag(touchpoint.id, period.start, period.end)
            top = sorted(
                ((sum(c.values()), t) for t, c in tags.items()), key=lambda x: (-x[0], x[1])
            )
            items.append(
                {
                    "touchpoint": touchpoint.slug,
                    "metric": touchpoint.metric,
                    "score": _brief(now_body),
                    "previous": _brief(then_body),
                    "change": _change(now_body, then_body),
                    "significant": _apart(now_body, then_body),
                    "top_tags": [{"tag": t, "count": n} for n, t in top[:TOP_TAGS]],
                }
            )
        return {
            "name": digest.name,
            "every": digest.every,
            "tz": digest.tz,
            "level": LEVEL,
            "period": {
                "key": period.key,
                "label": period.label,
                "since": iso(period.start),
                "until": iso(period.end),
            },
            "previous_period": {
                "key": before.key,
                "since": iso(before.start),
                "until": iso(before.end),
            },
            "touchpoints": items,
        }

    async def queue_due_digests(self, now: float) -> int:
        """Queue every digest whose period has come and wasn't queued yet; returns how many."""
        queued = 0
        for digest in await self.store.digests():
            try:
                period = periods.due(
                    digest.every, zone(digest.tz), periods.parse_at(digest.every, digest.at), now
                )
            except (periods.PeriodError, SeriesError):
                continue
            if digest.last_period is not None and digest.last_period >= period.key:
                continue
            content = await self.digest_content(digest, period)
            if await self.store.queue_digest(
                digest.name, period.key, content, time_ordered_id(now)
            ):
                queued += 1
        return queued


def _tag(value: Any) -> str:
    try:
        return check_tag(value)
    except TagError as error:
        raise invalid(error.field, str(error)) from None


def _brief(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"score": body["score"], "interval": body["interval"], "responses": body["responses"]}


def _change(now: Mapping[str, Any], then: Mapping[str, Any]) -> float | None:
    if now["score"] is None or then["score"] is None:
        return None
    return round(float(now["score"]) - float(then["score"]), 1)


def _apart(now: Mapping[str, Any], then: Mapping[str, Any]) -> bool:
    """Whether the two periods' 95% intervals don't overlap: a change worth a look."""
    if now["score"] is None or then["score"] is None:
        return False
    a, b = now["interval"], then["interval"]
    return bool(a["low"] > b["high"] or b["low"] > a["high"])


def _sample(now: float) -> Response:
    return Response(
        "00000000-0000-4000-8000-000000000000", 0, 2,
        "This is a test message from Scorelet: nothing to act on.", "test-subject",
        {"agent": "test-agent"}, now, now,
    )  # fmt: skip


def _sample_touchpoint() -> Touchpoint:
    return Touchpoint(0, "test", "csat", scale_for("csat", "stars"), None, None, None, None, None,
                      None, (), 4, 0, True, 1, 0.0, 0.0)  # fmt: skip
