"""Destinations, rules, deliveries, digests and tags over HTTP (admin key): thin handlers.

Each reads its body, calls the use case (routing/admin.py) and answers in
the shapes /openapi.json describes. A destination's secret is in the 201
that creates it and masked in every answer after.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.auth import authorize
from scorelet.api.body import read_json
from scorelet.api.query import bad_query
from scorelet.api.services import Services
from scorelet.errors import invalid
from scorelet.shapes import BACKFILL, RETRY, TAG_BODY
from scorelet.timeutil import parse_instant
from scorelet.validation import check_uuid
from scorelet.views import BackfillView, TestSendView

NO_STORE = {"Cache-Control": "no-store"}


class RoutingApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _admin(self, request: Request) -> None:
        await authorize(request, self.services.store, "admin")

    async def _body(self, request: Request) -> dict[str, Any]:
        return await read_json(request, self.services.settings.max_body)

    # -- destinations ---------------------------------------------------------------------------

    async def destinations(self, request: Request) -> Response:
        await self._admin(request)
        found = await self.services.store.destinations()
        return JSONResponse({"destinations": [d.public() for d in found]}, headers=NO_STORE)

    async def add_destination(self, request: Request) -> Response:
        await self._admin(request)
        destination = await self.services.routing.add_destination(await self._body(request))
        body = destination.public()
        if destination.kind == "webhook":
            body["secret"] = destination.secret  # shown this once
        return JSONResponse(
            body,
            status_code=201,
            headers={"Location": f"/api/v1/destinations/{destination.name}", **NO_STORE},
        )

    async def destination(self, request: Request) -> Response:
        await self._admin(request)
        found = await self.services.routing.destination(request.path_params["name"])
        return JSONResponse(found.public(), headers=NO_STORE)

    async def remove_destination(self, request: Request) -> Response:
        await self._admin(request)
        await self.services.store.remove_destination(request.path_params["name"])
        return Response(status_code=204)

    async def enable_destination(self, request: Request) -> Response:
        await self._admin(request)
        await self.services.routing.destination(request.path_params["name"])
        found = await self.services.store.enable_destination(request.path_params["name"])
        return JSONResponse(found.public(), headers=NO_STORE)

    async def test_destination(self, request: Request) -> Response:
        await self._admin(request)
        answer = await self.services.routing.test(request.path_params["name"])
        sent: TestSendView = {
            "ok": answer.ok,
            "status": answer.status,
            "body": answer.body,
            "error": answer.error,
        }
        return JSONResponse(sent, headers=NO_STORE)

    # -- rules ------------------------------------------------------------------------------------

    async def rules(self, request: Request) -> Response:
        await self._admin(request)
        found = await self.services.store.rules()
        return JSONResponse({"rules": [rule.public() for rule in found]}, headers=NO_STORE)

    async def add_rule(self, request: Request) -> Response:
        await self._admin(request)
        rule = await self.services.routing.add_rule(await self._body(request))
        return JSONResponse(
            rule.public(), status_code=201, headers={"Location": f"/api/v1/rules/{rule.name}"}
        )

    async def rule(self, request: Request) -> Response:
        await self._admin(request)
        found = await self.services.routing.rule(request.path_params["name"])
        return JSONResponse(found.public(), headers=NO_STORE)

    async def remove_rule(self, request: Request) -> Response:
        await self._admin(request)
        await self.services.store.remove_rule(request.path_params["name"])
        return Response(status_code=204)

    async def backfill(self, request: Request) -> Response:
        """Apply a tagging rule to stored ratings (optionally those since a time)."""
        await self._admin(request)
        body = BACKFILL.decode(await self._body(request))
        since = parse_instant(body.since) if body.since is not None else None  # checked
        seen, tagged = await self.services.routing.backfill(request.path_params["name"], since)
        done: BackfillView = {"rule": request.path_params["name"], "seen": seen, "tagged": tagged}
        return JSONResponse(done)

    # -- deliveries -------------------------------------------------------------------------------

    async def deliveries(self, request: Request) -> Response:
        await self._admin(request)
        params = dict(request.query_params)
        unknown = set(params) - {"state", "destination", "limit"}
        if unknown:
            name = sorted(unknown)[0][:64]
            raise bad_query(name, f"unknown parameter {name!r}: use state, destination, limit")
        limit = params.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise bad_query("limit", "limit must be a whole number from 1 to 1000")
        found = await self.services.routing.deliveries(
            params.get("state"), params.get("destination"), int(limit)
        )
        return JSONResponse({"deliveries": [d.public() for d in found]}, headers=NO_STORE)

    async def retry(self, request: Request) -> Response:
        """`{"ids": [...]}` or `{"all_dead": true}`: send those again now."""
        await self._admin(request)
        body = RETRY.decode(await self._body(request))
        if (body.ids is None) == (not body.all_dead):
            raise invalid("ids", 'give "ids" (a list of delivery ids) or "all_dead": true')
        retried = await self.services.store.retry_deliveries(body.ids)
        return JSONResponse({"deliveries": [d.public() for d in retried]})

    # -- digests ----------------------------------------------------------------------------------

    async def digests(self, request: Request) -> Response:
        await self._admin(request)
        found = await self.services.store.digests()
        return JSONResponse({"digests": [d.public() for d in found]}, headers=NO_STORE)

    async def add_digest(self, request: Request) -> Response:
        await self._admin(request)
        digest = await self.services.routing.add_digest(await self._body(request))
        return JSONResponse(digest.public(), status_code=201)

    async def remove_digest(self, request: Request) -> Response:
        await self._admin(request)
        await self.services.store.remove_digest(request.path_params["name"])
        return Response(status_code=204)

    # -- tags on a rating -------------------------------------------------------------------------

    async def _tagged(self, request: Request, add: bool) -> Response:
        await self._admin(request)
        response_id = check_uuid(request.path_params["id"])
        tag = request.query_params.get("tag")
        if tag is None:
            tag = TAG_BODY.decode(await self._body(request)).tag
        routing = self.services.routing
        stored = await (routing.add_tag if add else routing.remove_tag)(response_id, tag)
        touchpoint = self.services.store.touchpoint_by_id(stored.touchpoint_id)
        slug = touchpoint.slug if touchpoint else "?"
        return JSONResponse(stored.public(slug), status_code=201 if add else 200)

    async def add_tag(self, request: Request) -> Response:
        return await self._tagged(request, add=True)

    async def remove_tag(self, request: Request) -> Response:
        return await self._tagged(request, add=False)
