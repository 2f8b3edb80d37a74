"""Touchpoint endpoints: list and show (read key), create, change and delete (admin key)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.auth import authorize
from scorelet.api.body import read_json
from scorelet.api.caching import answer, prepare
from scorelet.api.services import Services
from scorelet.errors import invalid
from scorelet.touchpoints import Touchpoint, changed_fields, new_touchpoint_fields
from scorelet.views import TouchpointView


class TouchpointsApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _public(self, touchpoint: Touchpoint) -> TouchpointView:
        token = self.services.signer.mint_embed(touchpoint.slug, touchpoint.token_version)
        return {
            **touchpoint.public(),
            "embed_token": token,
            "embed_url": f"{self.services.settings.base_url}/s/{token}.js",
        }

    async def list(self, request: Request) -> Response:
        await authorize(request, self.services.store, "read")
        touchpoints = self.services.store.touchpoints()
        return answer(request, prepare({"touchpoints": [self._public(tp) for tp in touchpoints]}))

    async def show(self, request: Request) -> Response:
        await authorize(request, self.services.store, "read")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        return answer(request, prepare(self._public(touchpoint)))

    async def create(self, request: Request) -> Response:
        await authorize(request, self.services.store, "admin")
        body = await read_json(request, self.services.settings.max_body)
        touchpoint = await self.services.store.create_touchpoint(new_touchpoint_fields(body))
        return JSONResponse(
            self._public(touchpoint),
            status_code=201,
            headers={"Location": f"/api/v1/touchpoints/{touchpoint.slug}"},
        )

    async def update(self, request: Request) -> Response:
        await authorize(request, self.services.store, "admin")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        body = await read_json(request, self.services.settings.max_body)
        rotate = body.pop("rotate_token", False)
        if not isinstance(rotate, bool):
            raise invalid("rotate_token", "rotate_token must be true or false", "wrong_type")
        fields = changed_fields(touchpoint.metric, touchpoint.scale, body)
        updated = await self.services.store.update_touchpoint(touchpoint.slug, fields, rotate)
        return JSONResponse(self._public(updated))

    async def delete(self, request: Request) -> Response:
        await authorize(request, self.services.store, "admin")
        touchpoint = await self.services.touchpoint(request.path_params["slug"])
        await self.services.store.delete_touchpoint(touchpoint.slug)
        return Response(status_code=204)
