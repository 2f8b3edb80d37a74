"""Score endpoints built for polling: score, series, breakdown, and all scores at once.

Every answer is cached per change of the numbers behind it and carries an
ETag, so a dashboard polling every few seconds costs a dictionary lookup,
and a 304 less still. The numbers themselves come from the use cases.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from scorelet.api.auth import authorize
from scorelet.api.caching import AnswerCache, answer
from scorelet.api.query import RATING_PARAMS, bad_query, parse_window, with_rating_filters
from scorelet.api.services import Services

SERIES_PARAMS = frozenset({"interval", "tz", "tags"}) | RATING_PARAMS
BREAKDOWN_PARAMS = frozenset({"by"}) | RATING_PARAMS


def query_key(request: Request) -> bytes:
    """The raw query string, as a cache key: `request.url` would build a URL object per poll."""
    query: bytes = request.scope["query_string"]
    return query


class ScoresApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = AnswerCache()

    async def score(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        key = ("score", touchpoint.id, query_key(request))
        generation = store.scored_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        if cached is None:
            window, extra = parse_window(request.query_params.multi_items(), RATING_PARAMS)
            window = with_rating_filters(window, extra)
            body = await self.services.ratings.score(touchpoint, window)
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)

    async def series(self, request: Request) -> Response:
        store, ratings = self.services.store, self.services.ratings
        await authorize(request, store, "read")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        window, extra = parse_window(request.query_params.multi_items(), SERIES_PARAMS)
        window = with_rating_filters(window, extra)
        interval = extra.get("interval", "day")
        spans, tz = ratings.buckets(window, interval, extra.get("tz", "UTC"), time.time())
        # The buckets' span is in the key: without `until` the last bucket moves with the clock.
        # A `since` after now leaves no buckets at all: an empty series, not an error.
        edges = (spans[0][0], spans[-1][1]) if spans else None
        key = ("series", touchpoint.id, query_key(request), edges)
        generation = store.scored_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        tags = extra.get("tags", "false")
        if tags not in ("true", "false"):
            raise bad_query("tags", "tags must be true (per-tag counts in each bucket) or false")
        if cached is None:
            body = await ratings.series(touchpoint, window, spans, interval, tz, tags == "true")
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)

    async def breakdown(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        window, extra = parse_window(request.query_params.multi_items(), BREAKDOWN_PARAMS)
        window = with_rating_filters(window, extra)
        if "by" not in extra:
            raise bad_query("by", "by is required: the context key to group by, e.g. by=agent")
        key = ("breakdown", touchpoint.id, query_key(request))
        generation = store.scored_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        if cached is None:
            body = await self.services.ratings.breakdown(touchpoint, extra["by"], window)
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)

    async def all_scores(self, request: Request) -> Response:
        """Every touchpoint's score in one call, for a dashboard's first paint."""
        store = self.services.store
        await authorize(request, store, "read")
        window, _ = parse_window(request.query_params.multi_items())
        key = ("scores", query_key(request))
        generation = store.scored_generation
        cached = self.cache.get(key, generation)
        if cached is None:
            body = await self.services.ratings.all_scores(window)
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)
