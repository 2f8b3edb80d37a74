"""The HTTP layer: thin handlers that parse, call the rules and the store, respond."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import BaseRoute, Route

from scorelet.api.chat import ChatApi
from scorelet.api.embed import EmbedApi
from scorelet.api.home import HomePage
from scorelet.api.listing import ListingApi
from scorelet.api.meta import MetaApi
from scorelet.api.metrics import MetricsApi
from scorelet.api.middleware.direct import Handler
from scorelet.api.people import PeopleApi
from scorelet.api.rating_page import RatingPages
from scorelet.api.ratings import RatingsApi
from scorelet.api.routing import RoutingApi
from scorelet.api.scores import ScoresApi
from scorelet.api.services import Services
from scorelet.api.stream import StreamApi
from scorelet.api.touchpoints import TouchpointsApi

__all__ = ["Api", "Services", "routes"]


@dataclass(frozen=True)
class Api:
    routes: list[BaseRoute]
    submit: Handler  # the two handlers DirectRoutes calls without Starlette's layers
    score: Handler


def routes(services: Services) -> Api:
    responses = RatingsApi(services)
    touchpoints = TouchpointsApi(services)
    meta = MetaApi(services)
    embed = EmbedApi(services)
    scores = ScoresApi(services)
    listing = ListingApi(services)
    chat = ChatApi(services)
    hosted = RatingPages(services)
    demo = HomePage(services)
    loop = RoutingApi(services)
    people = PeopleApi(services)
    table: list[BaseRoute] = [
        # The two busiest routes are answered by DirectRoutes before Starlette
        # routes; they are listed here too, for other methods' 405s and the docs.
        Route("/api/v1/responses", responses.submit, methods=["POST"]),
        Route("/api/v1/touchpoints/{slug}/score", scores.score, methods=["GET"]),
        Route("/api/v1/responses/current", chat.current, methods=["GET"]),
        Route("/api/v1/responses/{id}", responses.comment, methods=["PATCH"]),
        Route("/api/v1/responses/{id}", responses.show, methods=["GET"]),
        Route("/api/v1/responses/{id}", responses.delete, methods=["DELETE"]),
        Route("/api/v1/responses/{id}/tags", loop.add_tag, methods=["POST"]),
        Route("/api/v1/responses/{id}/tags", loop.remove_tag, methods=["DELETE"]),
        Route("/api/v1/impressions", responses.impression, methods=["POST"]),
        Route("/api/v1/destinations", loop.destinations, methods=["GET"]),
        Route("/api/v1/destinations", loop.add_destination, methods=["POST"]),
        Route("/api/v1/destinations/{name}", loop.destination, methods=["GET"]),
        Route("/api/v1/destinations/{name}", loop.remove_destination, methods=["DELETE"]),
        Route("/api/v1/destinations/{name}/test", loop.test_destination, methods=["POST"]),
        Route("/api/v1/destinations/{name}/enable", loop.enable_destination, methods=["POST"]),
        Route("/api/v1/rules", loop.rules, methods=["GET"]),
        Route("/api/v1/rules", loop.add_rule, methods=["POST"]),
        Route("/api/v1/rules/{name}", loop.rule, methods=["GET"]),
        Route("/api/v1/rules/{name}", loop.remove_rule, methods=["DELETE"]),
        Route("/api/v1/rules/{name}/backfill", loop.backfill, methods=["POST"]),
        Route("/api/v1/deliveries", loop.deliveries, methods=["GET"]),
        Route("/api/v1/deliveries/retry", loop.retry, methods=["POST"]),
        Route("/api/v1/digests", loop.digests, methods=["GET"]),
        Route("/api/v1/digests", loop.add_digest, methods=["POST"]),
        Route("/api/v1/digests/{name}", loop.remove_digest, methods=["DELETE"]),
        Route("/api/v1/dismissals", responses.dismissal, methods=["POST"]),
        Route("/api/v1/identities", people.mint, methods=["POST"]),
        Route("/api/v1/eligibility", people.eligibility, methods=["GET"]),
        Route("/api/v1/people/{id}", people.person, methods=["GET"]),
        Route("/api/v1/people/{id}", people.forget, methods=["DELETE"]),
        Route("/api/v1/settings", people.settings, methods=["GET"]),
        Route("/api/v1/settings", people.update_settings, methods=["PATCH"]),
        Route("/api/v1/touchpoints", touchpoints.list, methods=["GET"]),
        Route("/api/v1/touchpoints", touchpoints.create, methods=["POST"]),
        Route("/api/v1/touchpoints/{slug}", touchpoints.show, methods=["GET"]),
        Route("/api/v1/touchpoints/{slug}", touchpoints.update, methods=["PATCH"]),
        Route("/api/v1/touchpoints/{slug}", touchpoints.delete, methods=["DELETE"]),
        Route("/api/v1/touchpoints/{slug}/series", scores.series, methods=["GET"]),
        Route("/api/v1/touchpoints/{slug}/breakdown", scores.breakdown, methods=["GET"]),
        Route("/api/v1/touchpoints/{slug}/responses", listing.responses, methods=["GET"]),
        Route("/api/v1/scores", scores.all_scores, methods=["GET"]),
        Route("/api/v1/stream", StreamApi(services).stream, methods=["GET"]),
        Route("/metrics", MetricsApi(services).metrics, methods=["GET"]),
        Route("/s/{token}.js", embed.loader, methods=["GET"]),
        Route("/widget.js", embed.latest, methods=["GET"]),
        Route("/widget.{hash}.js", embed.hashed, methods=["GET"]),
        Route("/api/v1/tokens", chat.mint, methods=["POST"]),
        Route("/r/{token}", hosted.page, methods=["GET"]),
        Route("/r/{token}", hosted.submit, methods=["POST"]),
        Route("/hosted.{hash}.css", hosted.style, methods=["GET"]),
        Route("/hosted.{hash}.js", hosted.script, methods=["GET"]),
        Route("/", demo.home, methods=["GET"]),
        Route("/demo/scores", demo.scores, methods=["GET"]),
        Route("/demo.js", demo.script, methods=["GET"]),
        Route("/favicon.ico", demo.favicon, methods=["GET"]),
        Route("/healthz", meta.healthz, methods=["GET"]),
        Route("/openapi.json", meta.openapi, methods=["GET"]),
    ]
    return Api(table, responses.submit, scores.score)
