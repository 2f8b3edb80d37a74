"""What the docs promise, checked against a real server: metric names, the alert rule, the
eligibility reasons (docs/polling.md and docs/when-to-ask.md; every page for metric names)."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from conftest import LiveServer
from scorelet.eligibility import REASONS

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS = "\n".join(page.read_text() for page in PAGES)
POLLING = (ROOT / "docs" / "polling.md").read_text()
WHEN_TO_ASK = (ROOT / "docs" / "when-to-ask.md").read_text()


def scraped(server: LiveServer) -> dict[str, list[dict[str, str]]]:
    """Every sample name on /metrics, with the label sets it comes with."""
    tp = server.add_touchpoint()
    with server.client() as client:
        client.post("/api/v1/impressions", json={"token": tp["embed_token"]})
        client.post("/api/v1/responses", json={"token": tp["embed_token"], "score": 5})
    with server.reader() as reader:
        text = reader.get("/metrics").text
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    return samples


def test_every_metric_the_docs_name_is_served(server: LiveServer) -> None:
    served = scraped(server)
    named = set(re.findall(r"\bscorelet_[a-z_]+\b", DOCS))
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in served}
    missing = sorted(n for n in named if n not in served and n not in families)
    assert missing == [], f"the docs name metrics /metrics doesn't serve: {missing}"
    assert "scorelet_ratings_total" in named
    assert "scorelet_score_responses_total" not in named


def test_the_alert_rule_matches_its_series_on_the_labels_they_share(server: LiveServer) -> None:
    """`a < 80 and b >= 30` only matches series with identical labels, unless `on(...)` says."""
    served = scraped(server)
    rules = re.findall(
        r"(scorelet_\w+)\{[^}]*\} [<>=]+ \d+ and (?:on\(([\w, ]*)\) )?(scorelet_\w+)\{", POLLING
    )
    assert rules, "docs/polling.md shows an alert rule"
    for left, on, right in rules:
        left_labels = set(served[left][0]) | {"job", "instance"}
        right_labels = set(served[right][0]) | {"job", "instance"}
        compared = {label.strip() for label in on.split(",")} if on else left_labels
        assert compared <= left_labels & right_labels, (left, on, right)
        if not on:
            assert left_labels == right_labels, f"{left} and {right} never match"


def test_every_eligibility_reason_is_documented() -> None:
    documented = re.findall(r"^\| `([a-z_]+)` \| (?:true|false) \|", WHEN_TO_ASK, re.MULTILINE)
    assert documented == list(REASONS), "docs/when-to-ask.md lists every reason, in order"
