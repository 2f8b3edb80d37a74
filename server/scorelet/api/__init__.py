"""The HTTP layer: thin handlers that parse, call the rules and the store, respond."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from scorelet.api.embed import EmbedApi
from scorelet.api.meta import MetaApi
from scorelet.api.responses import ResponsesApi
from scorelet.api.services import Services
from scorelet.api.touchpoints import TouchpointsApi

__all__ = ["Services", "routes"]


def routes(services: Services) -> list[BaseRoute]:
    responses = ResponsesApi(services)
    touchpoints = TouchpointsApi(services)
    meta = MetaApi(services)
    embed = EmbedApi(services)
    return [
        Route("/api/v1/responses", responses.submit, methods=["POST"]),
        Route("/api/v1/responses/{id}", responses.comment, methods=["PATCH"]),
        Route("/api/v1/impressions", responses.impression, methods=["POST"]),
        Route("/api/v1/touchpoints", touchpoints.list, methods=["GET"]),
        Route("/api/v1/touchpoints", touchpoints.create, methods=["POST"]),
        Route("/api/v1/touchpoints/{slug}", touchpoints.show, methods=["GET"]),
        Route("/api/v1/touchpoints/{slug}", touchpoints.update, methods=["PATCH"]),
        Route("/api/v1/touchpoints/{slug}", touchpoints.delete, methods=["DELETE"]),
        Route("/api/v1/touchpoints/{slug}/score", touchpoints.score, methods=["GET"]),
        Route("/s/{token}.js", embed.loader, methods=["GET"]),
        Route("/widget.js", embed.latest, methods=["GET"]),
        Route("/widget.{hash}.js", embed.hashed, methods=["GET"]),
        Route("/healthz", meta.healthz, methods=["GET"]),
        Route("/openapi.json", meta.openapi, methods=["GET"]),
    ]
