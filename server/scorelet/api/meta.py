"""Health and the API description."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet import __version__
from scorelet.api.services import Services
from scorelet.openapi import openapi_document
from scorelet.views import HealthView


class MetaApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._openapi: dict[str, object] | None = None

    async def healthz(self, request: Request) -> Response:
        """200 while ratings can be committed; 503 (for load balancers) when they can't."""
        store = self.services.store
        health = store.health()
        body: HealthView = {
            "status": "ok" if health.ok else "failing",
            "version": __version__,
            "touchpoints": len(store.touchpoints()),
            "writer_queue": health.queue_depth,
        }
        if health.error:
            body["error"] = health.error
        return JSONResponse(
            body, status_code=200 if health.ok else 503, headers={"Cache-Control": "no-store"}
        )

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            self._openapi = openapi_document(self.services.settings.base_url)
        return JSONResponse(self._openapi)
