"""Server-sent events: a touchpoint's new score, pushed within a second of its commit.

`GET /api/v1/stream?touchpoints=a,b` (read key; default: all) sends one
`score` event per touchpoint whose numbers changed, with the same body as
`/score`. Event ids are the store's change generation: a client reconnecting
with `Last-Event-ID` gets the current score of every touchpoint that changed
since, so it misses nothing it cares about. Comments keep proxies from
timing the connection out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from scorelet.api.auth import authorize
from scorelet.api.caching import encode
from scorelet.api.query import bad_query
from scorelet.api.scores import score_body
from scorelet.api.services import Services
from scorelet.store import Store

HEARTBEAT = 15.0
COALESCE = 0.1  # gather a burst of commits into one event per touchpoint
RETRY_MS = 3000


def event(generation: int, data: bytes) -> bytes:
    return b"id: %d\nevent: score\ndata: %s\n\n" % (generation, data)


class StreamApi:
    def __init__(self, services: Services, heartbeat: float = HEARTBEAT) -> None:
        self.services = services
        self.heartbeat = heartbeat

    async def stream(self, request: Request) -> Response:
        store = self.services.store
        await authorize(request, store, "read")
        wanted = self._touchpoints(store, request.query_params.get("touchpoints"))
        last_id = request.headers.get("last-event-id", "").strip()
        since = int(last_id) if last_id.isdigit() and len(last_id) < 20 else None
        return StreamingResponse(
            self._events(store, wanted, since),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def _touchpoints(self, store: Store, names: str | None) -> set[str] | None:
        if names is None:
            return None
        wanted = {name for name in names.split(",") if name}
        unknown = sorted(wanted - {tp.slug for tp in store.touchpoints()})
        if unknown:
            raise bad_query("touchpoints", f"no touchpoint is named {unknown[0][:64]!r}")
        return wanted

    async def _events(
        self, store: Store, wanted: set[str] | None, since: int | None
    ) -> AsyncIterator[bytes]:
        yield b"retry: %d\n\n" % RETRY_MS
        sent: dict[int, bytes] = {}
        while True:
            generation = store.generation
            for touchpoint in store.touchpoints():
                if wanted is not None and touchpoint.slug not in wanted:
                    continue
                if since is not None and store.scored_at(touchpoint.id) <= since:
                    continue
                counts, displays = store.totals(touchpoint.id)
                data = encode(score_body(touchpoint, counts, displays))
                if sent.get(touchpoint.id) != data:
                    sent[touchpoint.id] = data
                    yield event(generation, data)
            since = generation
            if store.generation != generation:
                continue  # something changed while we were sending
            if await store.wait_for_change(self.heartbeat):
                await asyncio.sleep(COALESCE)
            else:
                yield b": keep-alive\n\n"
