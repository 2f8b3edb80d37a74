"""`/metrics` in the Prometheus text format: scores per touchpoint and server health.

prometheus_client formats the numbers at scrape time through a custom
collector; counting itself (api/middleware/metrics.py, the writer) stays plain
arithmetic, off prometheus_client's locks.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from scorelet.api.auth import authorize
from scorelet.api.middleware.metrics import LATENCY_BUCKETS, RequestStats
from scorelet.api.services import Services
from scorelet.errors import Problem
from scorelet.ratings import Ratings
from scorelet.store.interface import BATCH_BUCKETS


def _cumulative(counts: list[int], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    running, points = 0, []
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        points.append(("+Inf" if bound == float("inf") else str(bound), float(running)))
    return points


class ScoreletCollector(Collector):
    def __init__(self, ratings: Ratings, stats: RequestStats) -> None:
        self.ratings = ratings
        self.store = ratings.store
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        yield from self._scores()
        yield from self._health()

    def _scores(self) -> Iterator[Metric]:
        score = GaugeMetricFamily(
            "scorelet_score",
            "CSAT (0-100) or NPS (-100-100), all time",
            labels=["touchpoint", "metric"],
        )
        low = GaugeMetricFamily(
            "scorelet_score_interval_low",
            "lower end of the score's 95% interval",
            labels=["touchpoint"],
        )
        high = GaugeMetricFamily(
            "scorelet_score_interval_high",
            "upper end of the score's 95% interval",
            labels=["touchpoint"],
        )
        # A gauge: deleting a rating (or erasing a person) lowers it.
        responses = GaugeMetricFamily(
            "scorelet_responses", "ratings counted now (one per subject)", labels=["touchpoint"]
        )
        per_score = GaugeMetricFamily(
            "scorelet_score_responses",
            "ratings counted per score now (a change of mind moves one)",
            labels=["touchpoint", "score"],
        )
        received = CounterMetricFamily(
            "scorelet_ratings",
            "ratings received since the server started, per score (for rates over time)",
            labels=["touchpoint", "score"],
        )
        impressions = CounterMetricFamily(
            "scorelet_impressions", "times the widget was shown", labels=["touchpoint"]
        )
        answered = CounterMetricFamily(
            "scorelet_answered_impressions",
            "impressions that led to a rating (the response rate's numerator)",
            labels=["touchpoint"],
        )
        for touchpoint in self.store.touchpoints():
            body = self.ratings.live_score(touchpoint)
            slug = touchpoint.slug
            value, bounds = body["score"], body["interval"]
            if value is not None and bounds["low"] is not None and bounds["high"] is not None:
                score.add_metric([slug, touchpoint.metric], value)
                low.add_metric([slug], bounds["low"])
                high.add_metric([slug], bounds["high"])
            responses.add_metric([slug], body["responses"])
            given = self.store.received.get(touchpoint.id, {})
            for point, count in body["distribution"].items():
                per_score.add_metric([slug, point], count)
                received.add_metric([slug, point], given.get(int(point), 0))
            # All-time totals have no filter, so their impressions are always counted.
            impressions.add_metric([slug], body["impressions"] or 0)
            answered.add_metric([slug], body["answered_impressions"] or 0)
        yield from (score, low, high, responses, per_score, received, impressions, answered)

    def _health(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "scorelet_http_requests", "HTTP requests answered", labels=["method", "route", "status"]
        )
        for (method, route, status), count in sorted(self.stats.counts.items()):
            requests.add_metric([method, route, str(status)], count)
        latency = HistogramMetricFamily(
            "scorelet_http_request_duration_seconds", "time to answer", labels=["route"]
        )
        for route, counts in sorted(self.stats.latency.items()):
            latency.add_metric(
                [route], _cumulative(counts, LATENCY_BUCKETS), self.stats.latency_sum[route]
            )
        health = self.store.health()
        depth = GaugeMetricFamily("scorelet_writer_queue_depth", "writes waiting to commit")
        depth.add_metric([], health.queue_depth)
        batches = HistogramMetricFamily("scorelet_writer_batch_size", "writes per committed batch")
        sizes = list(health.batch_sizes) or [0] * len(BATCH_BUCKETS)
        batches.add_metric([], _cumulative([*sizes, 0], BATCH_BUCKETS), health.writes)
        yield from (requests, latency, depth, batches)


class MetricsApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._registry: CollectorRegistry | None = None

    async def metrics(self, request: Request) -> Response:
        token = self.services.settings.metrics_token
        header = request.headers.get("authorization", "")
        if not (token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())):
            try:
                await authorize(request, self.services.store, "read")
            except Problem as problem:
                problem.detail += " (or the SCORELET_METRICS_TOKEN)" if token else ""
                raise
        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(ScoreletCollector(self.services.ratings, self.services.stats))
        return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_LATEST)
