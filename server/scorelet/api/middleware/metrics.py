"""Counting and timing every request for /metrics, as cheaply as possible.

This runs on every request, so it is plain integer arithmetic on dicts and
lists with a fixed, small set of route labels.
"""

from __future__ import annotations

import bisect
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_TOUCHPOINT_ROUTES = ("score", "series", "breakdown", "responses")


def route_of(path: str) -> str:
    """A small fixed set of route names, so labels can't grow with the URLs seen."""
    parts = path.split("/")
    if path.startswith("/api/v1/touchpoints/") and len(parts) == 6:
        return parts[5] if parts[5] in _TOUCHPOINT_ROUTES else "other"
    if path.startswith("/api/v1/"):
        name = parts[3] if len(parts) > 3 else ""
        known = (
            "responses",
            "impressions",
            "dismissals",
            "touchpoints",
            "scores",
            "stream",
            "tokens",
            "identities",
            "eligibility",
            "people",
            "settings",
        )
        return name if name in known else "other"
    heads = {"s": "loader", "r": "hosted", "metrics": "metrics", "healthz": "healthz"}
    if parts[1] in heads:
        return heads[parts[1]]
    return "widget" if parts[1].startswith("widget") else "other"


class RequestStats:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        buckets = self.latency.get(route)
        if buckets is None:
            buckets = self.latency[route] = [0] * (len(LATENCY_BUCKETS) + 1)
            self.latency_sum[route] = 0.0
        buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum[route] += seconds


class RequestMetrics:
    """ASGI middleware counting requests by route and status, and timing them."""

    def __init__(self, app: ASGIApp, stats: RequestStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.stats.observe(
                scope["method"], route_of(scope["path"]), status, time.perf_counter() - start
            )
