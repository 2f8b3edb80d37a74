"""The pages people read: the overview, a touchpoint, a rating, the export and live updates.

Handlers are thin: they parse the filter (filters.py), ask the use cases
(ratings.py) for every number, shape charts (charts.py) and render. What a
page computes is kept per change of the numbers behind it (the store's
generations), so a dashboard left open, or opened by many, costs a lookup.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from scorelet.api.listing import decode_cursor, encode_cursor, export_response
from scorelet.api.services import Services
from scorelet.dashboard import charts
from scorelet.dashboard.filters import Filter, FilterError, parse
from scorelet.dashboard.gate import Gate, PageError, Redirect, Visitor
from scorelet.dashboard.render import Renderer
from scorelet.demo import is_demo
from scorelet.errors import Problem
from scorelet.export import FORMATS
from scorelet.ratings import Window
from scorelet.series import buckets
from scorelet.store import StorageError
from scorelet.timeutil import DAY
from scorelet.touchpoints import GROUPS, Touchpoint
from scorelet.trends import SMALL_N, benchmark, change, small
from scorelet.views import BucketView, ScoreView

PAGE_SIZE = 50
SPARK_WEEKS = 12
PREFERRED_KEYS = ("agent", "team", "channel", "plan")
HEARTBEAT = 15.0
LIVE_COALESCE = 0.1
GROUP_KINDS = ("low", "neutral", "high")
GROUP_TITLES = {
    "csat": ("Low", "Neutral", "Satisfied"),
    "nps": ("Detractors", "Passives", "Promoters"),
}


class Memo:
    """Computed pages' data, each good for one generation of the numbers behind it."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()

    def get(self, key: Hashable, generation: int) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != generation:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, generation: int, value: Any) -> Any:
        self._entries[key] = (generation, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value


@dataclass(frozen=True, slots=True)
class Card:
    """One touchpoint on the overview."""

    touchpoint: Touchpoint
    score: ScoreView
    change: Any
    benchmark: str | None
    spark: str
    weeks: list[BucketView]
    demo: bool


def default_interval(flt: Filter) -> str:
    if flt.window in ("7d", "30d"):
        return "day"
    if flt.window == "90d":
        return "week"
    if flt.window == "custom":
        assert flt.since is not None
        assert flt.until is not None
        days = (flt.until - flt.since).days + 1
        return "day" if days <= 45 else "week" if days <= 200 else "month"
    return "month"


def local(epoch: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def bucket_filter(flt: Filter, start: float, end: float, tz: ZoneInfo) -> Filter:
    """The filter that shows one bucket's ratings: its days, everything else kept."""
    first = local(start, tz).date()
    last = local(end, tz).date() - timedelta(days=1)
    return flt.with_(window="custom", since=first, until=max(first, last))


def bucket_label(start: float, end: float, interval: str, tz: ZoneInfo) -> str:
    day = local(start, tz)
    if interval == "month":
        return day.strftime("%B %Y")
    if interval == "week":
        return "week of " + day.strftime("%b %-d, %Y")
    return day.strftime("%a %b %-d, %Y")


class Views:
    def __init__(self, gate: Gate, renderer: Renderer) -> None:
        self.gate = gate
        self.renderer = renderer
        self.memo = Memo()

    @property
    def services(self) -> Services:
        return self.gate.services

    def _filter(self, request: Request) -> tuple[Filter, dict[str, str]]:
        try:
            return parse(request.query_params.multi_items())
        except FilterError as error:
            raise PageError(
                400, "That filter doesn't work", f"{error} (in {error.field}).", error.field
            ) from None

    def _touchpoint(self, slug: str) -> Touchpoint:
        touchpoint = self.services.store.touchpoint(slug)
        if touchpoint is None:
            raise PageError(404, "No such touchpoint", f"No touchpoint is named {slug[:64]!r}.")
        return touchpoint

    def _zone(self, flt: Filter, visitor: Visitor) -> ZoneInfo:
        return flt.zone(visitor.session.tz)

    def base(self, visitor: Visitor, **context: Any) -> dict[str, Any]:
        return {"visitor": visitor, "csrf": visitor.csrf, **context}

    # -- the overview -----------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        visitor = await self.gate.require(request)
        flt, _ = self._filter(request)
        tz = self._zone(flt, visitor)
        now = self.gate.now()
        store = self.services.store
        key = ("overview", tuple(flt.items()), tz.key, int(now // 3600))
        cards = self.memo.get(key, store.scored_generation)
        if cards is None:
            cards = self.memo.put(key, store.scored_generation, await self._cards(flt, tz, now))
        context = self.base(
            visitor,
            title="Overview",
            filter=flt,
            tz=tz.key,
            csat=[card for card in cards if card.touchpoint.metric == "csat"],
            nps=[card for card in cards if card.touchpoint.metric == "nps"],
            empty=not cards,
            no_ratings=all(card.score["responses"] == 0 for card in cards) and not flt.narrowed,
            any_demo=any(card.demo for card in cards),
            live="overview",
        )
        return self.renderer.page(request, "overview.html", context)

    async def _cards(self, flt: Filter, tz: ZoneInfo, now: float) -> list[Card]:
        ratings = self.services.ratings
        span = flt.span(tz, now)
        before = flt.previous(tz, now)
        weeks = buckets("week", tz, now - (SPARK_WEEKS - 1) * 7 * DAY, None, now)[-SPARK_WEEKS:]
        cards = []
        for touchpoint in self.services.store.touchpoints():
            window = flt.window_for(touchpoint, span)
            previous = flt.window_for(touchpoint, before) if before else None
            score, _, change = await ratings.compared(touchpoint, window, previous)
            trend = await ratings.trend(touchpoint, flt.window_for(touchpoint, (None, None)), weeks)
            cards.append(
                Card(
                    touchpoint,
                    score,
                    change,
                    benchmark(touchpoint.metric, score["score"]),
                    charts.sparkline(touchpoint.metric, trend),
                    trend,
                    is_demo(touchpoint.slug),
                )
            )
        return cards

    # -- a touchpoint -----------------------------------------------------------------------

    async def touchpoint(self, request: Request) -> Response:
        visitor = await self.gate.require(request)
        touchpoint = self._touchpoint(request.path_params["slug"])
        flt, page = self._filter(request)
        tz = self._zone(flt, visitor)
        now = self.gate.now()
        interval = page.get("interval") or default_interval(flt)
        if interval not in ("day", "week", "month"):
            raise PageError(400, "That filter doesn't work", "interval must be day, week or month.")
        store = self.services.store
        keys = await store.context_keys(touchpoint.id)
        by = page.get("by") or next((k for k in PREFERRED_KEYS if k in keys), None)
        by = by or (keys[0] if keys else None)
        cursor = page.get("cursor")
        memo_key = (
            "touchpoint",
            touchpoint,
            tuple(flt.items()),
            tz.key,
            int(now // 3600),
            interval,
            by,
            cursor,
        )
        generation = store.listed_at(touchpoint.id)
        data = self.memo.get(memo_key, generation)
        if data is None:
            data = await self._touchpoint_data(touchpoint, flt, tz, now, interval, by, cursor)
            self.memo.put(memo_key, generation, data)
        metric = touchpoint.metric
        context = self.base(
            visitor,
            title=touchpoint.slug,
            touchpoint=touchpoint,
            filter=flt,
            tz=tz.key,
            interval=interval,
            by=by,
            keys=keys,
            groups=list(zip(GROUPS[metric], GROUP_TITLES[metric], strict=True)),
            demo=is_demo(touchpoint.slug),
            live="touchpoint:" + touchpoint.slug,
            small_n=SMALL_N,
            **data,
        )
        return self.renderer.page(request, "touchpoint.html", context)

    async def _touchpoint_data(
        self,
        touchpoint: Touchpoint,
        flt: Filter,
        tz: ZoneInfo,
        now: float,
        interval: str,
        by: str | None,
        cursor: str | None,
    ) -> dict[str, Any]:
        ratings = self.services.ratings
        span = flt.span(tz, now)
        before = flt.previous(tz, now)
        window = flt.window_for(touchpoint, span)
        previous = flt.window_for(touchpoint, before) if before else None
        score, prior, change = await ratings.compared(touchpoint, window, previous)
        try:
            spans, _ = ratings.buckets(window, interval, tz.key, now)
        except Problem as problem:
            raise PageError(400, "That filter doesn't work", problem.detail + ".") from None
        points: list[dict[str, Any]] = [
            {
                **point,
                "label": bucket_label(start, end, interval, tz),
                "href": bucket_filter(flt, start, end, tz).query(interval="day"),
                "small": small(point),
            }
            for point, (start, end) in zip(
                await ratings.trend(touchpoint, window, spans), spans, strict=True
            )
        ]
        trend = charts.trend(
            touchpoint.metric,
            points,
            [p["href"] for p in points],
            [f"{p['label']}: {score_text(p, touchpoint.metric)}" for p in points],
        )
        breakdown = await self._breakdown(touchpoint, flt, window, previous, by)
        after = self._cursor(cursor)
        listed = await ratings.listing(touchpoint, window, PAGE_SIZE, after)
        last = listed[-1] if len(listed) == PAGE_SIZE else None
        return {
            "score": score,
            "prior": prior,
            "change": change,
            "benchmark": benchmark(touchpoint.metric, score["score"]),
            "points": points,
            "trend": trend,
            "distribution": distribution(touchpoint, score, flt),
            "breakdown": breakdown,
            "ratings": [
                {**r.public(touchpoint.slug), "when": local(r.created_at, tz)} for r in listed
            ],
            "next_cursor": encode_cursor(last.created_at, last.id) if last else None,
            "first_page": cursor is None,
        }

    def _cursor(self, cursor: str | None) -> tuple[float, str] | None:
        if cursor is None:
            return None
        try:
            return decode_cursor(cursor)
        except Problem:
            raise PageError(
                400, "That page doesn't exist", "Go back to the newest ratings."
            ) from None

    async def _breakdown(
        self,
        touchpoint: Touchpoint,
        flt: Filter,
        window: Window,
        previous: Window | None,
        by: str | None,
    ) -> list[dict[str, Any]]:
        if by is None:
            return []
        ratings = self.services.ratings
        try:
            rows: list[dict[str, Any]] = [
                {**row} for row in (await ratings.breakdown(touchpoint, by, window))["groups"]
            ]
            before = (
                (await ratings.breakdown(touchpoint, by, previous))["groups"] if previous else []
            )
        except Problem as problem:
            raise PageError(400, "That breakdown doesn't work", problem.detail + ".") from None
        earlier = {row["value"]: row for row in before}
        for row in rows:
            row["change"] = change(row, earlier.get(row["value"]))
            row["small"] = small(row)
            row["href"] = flt.with_context(by, row["value"]).query()
        return rows

    # -- one rating -------------------------------------------------------------------------

    async def rating(self, request: Request) -> Response:
        visitor = await self.gate.require(request)
        try:
            stored, touchpoint = await self.services.ratings.find(request.path_params["id"])
        except Problem:
            raise PageError(
                404, "No such rating", "No rating has this id; it may have been deleted."
            ) from None
        tz = ZoneInfo(visitor.session.tz)
        flt = Filter(window="all")
        context = self.base(
            visitor,
            title="Rating",
            touchpoint=touchpoint,
            rating=stored.public(touchpoint.slug),
            label=score_label(touchpoint, stored.score),
            created=local(stored.created_at, tz),
            updated=local(stored.updated_at, tz),
            tz=tz.key,
            context_links=[
                (key, value, flt.with_context(key, value).query())
                for key, value in sorted(stored.context.items())
            ],
            # The routing issue's tags (and deliveries) go here: None hides the section.
            tags=None,
            demo=is_demo(touchpoint.slug),
        )
        return self.renderer.page(request, "rating.html", context)

    async def delete_rating(self, request: Request) -> Response:
        """Delete a test or spam rating (admins, after ticking the box)."""
        _, form = await self.gate.change(request)
        if form.get("confirm") != "yes":
            raise PageError(
                400, "Not deleted", "Tick the box to confirm: a deleted rating can't come back."
            )
        try:
            _, touchpoint = await self.services.ratings.delete(request.path_params["id"])
        except (Problem, StorageError):
            raise PageError(
                404, "No such rating", "No rating has this id; it may be gone already."
            ) from None
        target = f"/dashboard/t/{touchpoint.slug}" if touchpoint else "/dashboard"
        raise Redirect(target)

    # -- export ------------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        visitor = await self.gate.require(request)
        touchpoint = self._touchpoint(request.path_params["slug"])
        flt, page = self._filter(request)
        fmt = page.get("format", "csv")
        if fmt not in FORMATS:
            raise PageError(400, "Unknown format", "format must be csv or ndjson.")
        tz = self._zone(flt, visitor)
        window = flt.window_for(touchpoint, flt.span(tz, self.gate.now()))
        return export_response(
            self.services.store, window.query(touchpoint.id), touchpoint.slug, fmt
        )

    # -- live --------------------------------------------------------------------------------

    async def live(self, request: Request) -> Response:
        """Server-sent events over the session cookie: `change` when the numbers or ratings
        of what the page shows move. The page then fetches itself again (dashboard.js)."""
        visitor = await self.gate.visitor(request)
        if visitor is None:
            return Response("sign in first", 401, media_type="text/plain")
        slug = request.query_params.get("t")
        touchpoint = self._touchpoint(slug) if slug else None
        return StreamingResponse(
            self._events(visitor, touchpoint, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _events(
        self, visitor: Visitor, touchpoint: Touchpoint | None, request: Request
    ) -> AsyncIterator[bytes]:
        store = self.services.store

        def mark() -> int:
            return store.listed_at(touchpoint.id) if touchpoint else store.scored_generation

        yield b"retry: 2000\n\n"
        seen = mark()
        while True:
            woke = await store.wait_for_listing(HEARTBEAT)
            if await self.gate.visitor(request) is None:
                yield b"event: ended\ndata: {}\n\n"
                return
            if not woke:
                yield b": keep-alive\n\n"
                continue
            await asyncio.sleep(LIVE_COALESCE)
            if mark() != seen:
                seen = mark()
                yield b"event: change\ndata: %s\n\n" % json.dumps({"generation": seen}).encode()


def score_text(body: Mapping[str, Any], metric: str) -> str:
    if body["score"] is None:
        return "no ratings"
    value = body["score"]
    text = f"{value:g}%" if metric == "csat" else f"{value:+g}" if value else "0"
    return f"{text} (n={body['responses']})"


def score_label(touchpoint: Touchpoint, score: int) -> str:
    scale = touchpoint.scale
    return f"{score} of {scale.high}" if scale.low else f"{score} of 0-{scale.high}"


def distribution(touchpoint: Touchpoint, body: ScoreView, flt: Filter) -> list[Any]:
    """The distribution bar: each score (CSAT) or each group (NPS), linked to its ratings."""
    counts = {int(k): v for k, v in body["distribution"].items()}
    if touchpoint.metric == "nps":
        parts = [
            (
                GROUP_TITLES["nps"][i],
                GROUP_KINDS[i],
                body[("detractors", "passives", "promoters")[i]]["count"],
                flt.with_(group=GROUPS["nps"][i], min_score=None, max_score=None).query(),
            )
            for i in range(3)
        ]
    else:
        parts = [
            (
                f"{score}",
                GROUP_KINDS[touchpoint.group(score)],
                counts.get(score, 0),
                flt.with_(min_score=score, max_score=score, group=None).query(),
            )
            for score in touchpoint.scale.points
        ]
    return charts.stacked(parts)
