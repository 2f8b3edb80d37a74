"""Every place that shows a score shows the same figures: one body, never recomputed.

The API, all scores at once, a series bucket, Prometheus and both forms of
`scorelet score` must agree, so a point estimate can only sit outside its
interval if the rule that makes both (scoring.py) puts it there.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backends import database_args
from conftest import LiveServer
from scorelet.cli import main

ON_EVERY_BACKEND = True


def surfaces(server: LiveServer, slug: str, capsys: pytest.CaptureFixture[str]) -> list[Any]:
    with server.reader() as reader:
        api = reader.get(f"/api/v1/touchpoints/{slug}/score").json()
        everything = reader.get("/api/v1/scores").json()["touchpoints"]
        series = reader.get(f"/api/v1/touchpoints/{slug}/series?since=2000-01-01&interval=month")
        metrics = reader.get("/metrics").text
    listed = next(body for body in everything if body["touchpoint"] == slug)
    bucket = next(b for b in series.json()["buckets"] if b["responses"])
    gauges = {
        s.name: s.value
        for f in text_string_to_metric_families(metrics)
        for s in f.samples
        if s.labels.get("touchpoint") == slug and s.name.startswith("scorelet_score")
    }
    capsys.readouterr()
    where = database_args(server.backend, server.settings.data_dir)
    assert main(["score", slug, "--json", *where]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert main(["score", slug, *where]) == 0
    text = re.search(
        r" (-?[\d.]+)%? from \d+ \w+ \(95% interval (-?[\d.]+) to (-?[\d.]+)\)",
        capsys.readouterr().out,
    )
    assert text
    return [
        (api["score"], api["interval"]["low"], api["interval"]["high"]),
        (listed["score"], listed["interval"]["low"], listed["interval"]["high"]),
        (bucket["score"], bucket["interval"]["low"], bucket["interval"]["high"]),
        (
            gauges["scorelet_score"],
            gauges["scorelet_score_interval_low"],
            gauges["scorelet_score_interval_high"],
        ),
        (cli["score"], cli["interval"]["low"], cli["interval"]["high"]),
        tuple(float(group) for group in text.groups()),
    ]


@pytest.mark.parametrize(
    ("fields", "scores"),
    [
        ({"metric": "csat"}, [5, 5, 4, 2, 1, 5, 3]),
        ({"metric": "csat"}, [5]),
        ({"metric": "nps"}, [10, 9, 7, 3, 0, 8]),
    ],
)
def test_every_surface_shows_the_same_score_and_interval(
    server: LiveServer,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, str],
    scores: list[int],
) -> None:
    tp = server.add_touchpoint(**fields)
    with server.client() as client:
        for score in scores:
            client.post("/api/v1/responses", json={"token": tp["embed_token"], "score": score})
    shown = surfaces(server, tp["slug"], capsys)
    assert len(set(shown)) == 1, shown
    score, low, high = shown[0]
    assert low <= score <= high, "a point estimate inside its own interval"
