"""Listing and exporting a touchpoint's responses.

The JSON list is paged with an opaque keyset cursor (newest first), so paging
stays correct and fast while ratings keep arriving. `format=csv|ndjson`
streams every match in pages of a thousand: memory stays flat at any size.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from scorelet import export
from scorelet.api.auth import authorize
from scorelet.api.caching import AnswerCache, answer
from scorelet.api.query import bad_query, bool_param, int_param, parse_window, score_bounds
from scorelet.api.services import Services
from scorelet.errors import Problem
from scorelet.store import ResponseQuery, Store
from scorelet.touchpoints import Touchpoint, group_range
from scorelet.validation import check_subject
from scorelet.views import ResponsePageView

LIST_PARAMS = frozenset(
    {"limit", "cursor", "min_score", "max_score", "has_comment", "subject", "format", "group"}
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


# The last rating of a page: its time (repr, so it reads back exactly) and id. Nothing in it
# is secret or trusted: any such pair is a place in the newest-first order to go on from.
CURSOR = re.compile(r"^([0-9]{1,12}(?:\.[0-9]{1,17})?)_([0-9A-Fa-f-]{36})$")


def encode_cursor(created_at: float, response_id: str) -> str:
    return f"{created_at!r}_{response_id}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    match = CURSOR.match(cursor)
    if match is None:
        raise bad_query("cursor", "cursor is not one this server gave out; start without it")
    return float(match[1]), match[2]


def _group(
    touchpoint: Touchpoint, group: str, low: int | None, high: int | None
) -> tuple[int, int]:
    """A group's scores (`promoter`: 9-10), narrowed by min_score/max_score if given."""
    try:
        first, last = group_range(touchpoint, group)
    except ValueError as error:
        raise bad_query("group", str(error)) from None
    return max(first, low if low is not None else first), min(
        last, high if high is not None else last
    )


class ListingApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = AnswerCache(size=512)

    async def responses(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        window, params = parse_window(request.query_params.multi_items(), LIST_PARAMS)
        subject = params.get("subject")
        if subject is not None:
            try:
                check_subject(subject)
            except Problem as problem:
                raise bad_query("subject", problem.detail) from None
        low, high = score_bounds(params)
        if "group" in params:
            low, high = _group(touchpoint, params["group"], low, high)
        query = ResponseQuery(
            touchpoint_id=touchpoint.id,
            since=window.since,
            until=window.until,
            filters=window.filters,
            min_score=low,
            max_score=high,
            has_comment=bool_param(params, "has_comment"),
            subject=subject,
            tag=window.tag,
        )
        # Checked for exports too (which hold every rating, so page by neither): a wrong
        # parameter is refused wherever it is given.
        limit = int_param(params, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
        after = decode_cursor(params["cursor"]) if "cursor" in params else None
        fmt = params.get("format", "json")
        if fmt in export.FORMATS:
            return export_response(store, query, touchpoint.slug, fmt)
        if fmt != "json":
            raise bad_query("format", "format must be json, csv or ndjson")
        key = ("list", touchpoint.id, request.url.query)
        generation = store.listed_at(touchpoint.id)
        cached = self.cache.get(key, generation)
        if cached is None:
            rows = await store.list_responses(query, limit, after)
            last = rows[-1] if len(rows) == limit else None
            body: ResponsePageView = {
                "touchpoint": touchpoint.slug,
                "responses": [row.public(touchpoint.slug) for row in rows],
                "next_cursor": encode_cursor(last.created_at, last.id) if last else None,
            }
            cached = self.cache.put(key, generation, body)
        return answer(request, cached)


def export_response(store: Store, query: ResponseQuery, slug: str, fmt: str) -> Response:
    """Every rating `query` selects, streamed as CSV or NDJSON in constant memory."""

    async def stream() -> AsyncIterator[bytes]:
        keys = await store.context_keys(query.touchpoint_id) if fmt == "csv" else []
        yield export.header(fmt, keys).encode()
        async for page in store.iter_responses(query):
            yield export.lines(fmt, slug, page, keys).encode()

    filename = f"{slug}-responses.{fmt}"
    return StreamingResponse(
        stream(),
        media_type=export.MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
