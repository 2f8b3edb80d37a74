"""Score endpoints built for polling: score, series, breakdown, and all scores at once.

Every answer is cached per change of the numbers behind it and carries an
ETag, so a dashboard polling every few seconds costs a dictionary lookup,
and a 304 less still.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scorelet.api.auth import authorize
from scorelet.api.caching import AnswerCache, answer
from scorelet.api.query import Window, bad_query, parse_window
from scorelet.api.services import Services
from scorelet.displays import Displays, rate_fields
from scorelet.errors import Problem
from scorelet.scoring import summarize
from scorelet.series import SeriesError, buckets, zone
from scorelet.store import Store
from scorelet.timeutil import iso
from scorelet.touchpoints import Touchpoint
from scorelet.validation import check_context_key

SERIES_PARAMS = frozenset({"interval", "tz"})
BREAKDOWN_PARAMS = frozenset({"by"})
RATE_FIELDS = tuple(rate_fields(None))  # a breakdown's groups have no impressions


def query_key(request: Request) -> bytes:
    """The raw query string, as a cache key: `request.url` would build a URL object per poll."""
    query: bytes = request.scope["query_string"]
    return query


def score_body(
    touchpoint: Touchpoint, counts: dict[int, int], displays: Displays | None
) -> dict[str, Any]:
    """The one score body: the API, the CLI, SSE, metrics and the demo page all show it."""
    body = summarize(touchpoint.metric, touchpoint.scale, touchpoint.satisfied_from, counts)
    return {"touchpoint": touchpoint.slug, **body, **rate_fields(displays)}


async def window_score(store: Store, touchpoint: Touchpoint, window: Window) -> dict[str, Any]:
    """`GET .../score` for a window and filters (and `scorelet score --json`)."""
    counts, displays = await store.counts(touchpoint.id, window.since, window.until, window.filters)
    return {**score_body(touchpoint, counts, displays), **window.public()}


class ScoresApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = AnswerCache()

    async def score(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        touchpoint = self.services.touchpoint(request.path_params["slug"])
        key = ("score", touchpoint.id, query_key(request))
        generation = store.scored_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        if cached is None:
            window, _ = parse_window(request.query_params.multi_items())
            body = await window_score(store, touchpoint, window)
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)

    async def series(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        touchpoint = self.services.touchpoint(request.path_params["slug"])
        window, extra = parse_window(request.query_params.multi_items(), SERIES_PARAMS)
        interval = extra.get("interval", "day")
        try:
            tz = zone(extra.get("tz", "UTC"))
            spans = buckets(interval, tz, window.since, window.until, time.time())
        except SeriesError as error:
            raise bad_query(error.field, str(error)) from None
        key = ("series", touchpoint.id, query_key(request), spans[0][0], spans[-1][1])
        generation = store.scored_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        if cached is None:
            cached = self.cache.put(
                key, generation, await self._series(touchpoint, window, spans, interval, tz.key)
            )
        return answer(request, cached)

    async def _series(
        self,
        touchpoint: Touchpoint,
        window: Window,
        spans: list[tuple[float, float]],
        interval: str,
        tz: str,
    ) -> dict[str, Any]:
        clipped = [
            (
                max(start, window.since) if window.since is not None else start,
                min(end, window.until) if window.until is not None else end,
            )
            for start, end in spans
        ]
        results = await self.services.store.series(touchpoint.id, clipped, window.filters)
        points = [
            {"start": iso(start), "end": iso(end), **score_body(touchpoint, counts, displays)}
            for (start, end), (counts, displays) in zip(spans, results, strict=True)
        ]
        for point in points:
            del point["touchpoint"]
        return {
            "touchpoint": touchpoint.slug,
            "metric": touchpoint.metric,
            "interval": interval,
            "tz": tz,
            **window.public(),
            "buckets": points,
        }

    async def breakdown(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        touchpoint = self.services.touchpoint(request.path_params["slug"])
        window, extra = parse_window(request.query_params.multi_items(), BREAKDOWN_PARAMS)
        if "by" not in extra:
            raise bad_query("by", "by is required: the context key to group by, e.g. by=agent")
        try:
            by = check_context_key(extra["by"], "by")
        except Problem as problem:
            raise bad_query("by", problem.detail) from None
        key = ("breakdown", touchpoint.id, query_key(request))
        generation = store.scored_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        if cached is None:
            groups = await store.breakdown(
                touchpoint.id, by, window.since, window.until, window.filters
            )
            rows = [
                {"value": value, **score_body(touchpoint, counts, None)}
                for value, counts in groups.items()
            ]
            for row in rows:
                del row["touchpoint"]
                for name in RATE_FIELDS:
                    del row[name]
            rows.sort(key=lambda row: (-row["responses"], row["value"]))
            body = {"touchpoint": touchpoint.slug, "by": by, **window.public(), "groups": rows}
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)

    async def all_scores(self, request: Request) -> Response:
        """Every touchpoint's score in one call, for a dashboard's first paint."""
        store = self.services.store
        await authorize(request, store, "read")
        window, _ = parse_window(request.query_params.multi_items())
        if window.until is not None or window.filters:
            raise bad_query("until", "/api/v1/scores takes only since; use each touchpoint's score")
        key = ("scores", query_key(request))
        cached = self.cache.get(key, store.scored_generation)
        if cached is None:
            generation = store.scored_generation
            scores = []
            for touchpoint in store.touchpoints():
                counts, displays = await store.counts(touchpoint.id, window.since)
                scores.append(score_body(touchpoint, counts, displays))
            cached = self.cache.put(key, generation, {**window.public(), "touchpoints": scores})
        return answer(request, cached)
