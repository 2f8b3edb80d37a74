"""A weekly digest over a real server: its content against a recount, sent once per period."""

from __future__ import annotations

import math
import time
from pathlib import Path

from backends import Given
from conftest import Clock, run_server
from receivers import WebhookReceiver, receiving, wait_for
from scorelet.timeutil import DAY, iso

WEEK = 7 * DAY
ON_EVERY_BACKEND = True


def week_start(instant: float) -> float:
    """Monday 00:00 UTC of the ISO week holding `instant` (1970-01-01 was a Thursday)."""
    return math.floor((instant - 4 * DAY) / WEEK) * WEEK + 4 * DAY


def test_the_weekly_digest_reports_each_touchpoint_against_a_recount(
    tmp_path: Path, backend: str
) -> None:
    clock = Clock()
    now = time.time()
    this_week = week_start(now)
    last_week = this_week - WEEK
    # This week: 2 of 10 satisfied (CSAT 20); last week: 9 of 10 (CSAT 90): far apart.
    current = [1, 2, 1, 3, 2, 4, 5, 1, 2, 3]
    previous = [5, 5, 4, 5, 4, 5, 5, 4, 5, 2]
    span = now - this_week
    given = [
        Given(this_week + span * (i + 1) / 12, s, comment="slow checkout" if i < 4 else None)
        for i, s in enumerate(current)
    ] + [Given(last_week + DAY + i * 3600, s) for i, s in enumerate(previous)]
    with receiving(WebhookReceiver) as hook:
        hook.any_time = True
        for live in run_server(
            tmp_path / "data", clock=clock, backend=backend, allow_private_destinations=True
        ):
            tp = live.add_touchpoint(slug="checkout")
            live.load("checkout", given)
            with live.admin() as admin:
                created = admin.post(
                    "/api/v1/destinations",
                    json={"name": "team", "type": "webhook", "url": hook.url},
                ).json()
                hook.secret = created["secret"]
                rule = {"name": "speed", "comment_matches": "slow", "add_tags": ["Speed"]}
                assert admin.post("/api/v1/rules", json=rule).status_code == 201
                assert admin.post("/api/v1/rules/speed/backfill", json={}).json()["tagged"] == 4
                digest = {
                    "name": "weekly",
                    "destination": "team",
                    "every": "week",
                    "at": "mon 00:00",
                    "tz": "UTC",
                }
                for field, wrong, code in (
                    ("at", 9.5, "wrong_type"),
                    ("every", ["week"], "wrong_type"),
                    ("tz", 1, "wrong_type"),
                    ("name", "Weekly!", "invalid_value"),
                    ("every", "day", "invalid_value"),
                    ("at", "09:00", "invalid_value"),  # a weekly digest names a day
                    ("tz", "Mars/Base", "invalid_value"),
                    ("touchpoints", ["checkout", 7], "wrong_type"),
                    ("touchpoints", ["nowhere"], "touchpoint_not_found"),
                    ("cc", "me", "unknown_field"),
                ):
                    refused = admin.post("/api/v1/digests", json={**digest, field: wrong})
                    assert (refused.json()["field"], refused.json()["code"]) == (field, code)
                    assert refused.status_code == (404 if code.endswith("found") else 422)
                assert admin.get("/api/v1/digests").json()["digests"] == []
                answer = admin.post("/api/v1/digests", json=digest)
                assert answer.status_code == 201, answer.text
                assert hook.payloads == []  # the week already over when it was made isn't sent
                clock.advance(WEEK)
                (payload,) = wait_for(lambda: hook.payloads, what="the digest")
                content = payload["data"]["digest"]
                assert payload["type"] == "digest"
                assert content["period"]["since"] == iso(this_week)
                assert content["period"]["until"] == iso(this_week + WEEK)
                (item,) = [t for t in content["touchpoints"] if t["touchpoint"] == "checkout"]
                assert item["score"]["responses"] == len(current)
                assert item["score"]["score"] == 100 * sum(s >= 4 for s in current) / len(current)
                assert item["previous"]["responses"] == len(previous)
                assert item["previous"]["score"] == 100 * sum(s >= 4 for s in previous) / 10
                assert item["change"] == -70.0
                assert item["significant"] is True
                assert item["top_tags"] == [{"tag": "Speed", "count": 4}]
                with live.reader() as reader:
                    scored = reader.get(
                        f"/api/v1/touchpoints/{tp['slug']}/score",
                        params={"since": str(this_week), "until": str(this_week + WEEK)},
                    ).json()
                assert item["score"]["interval"] == scored["interval"]
                listed = admin.get("/api/v1/digests").json()["digests"]
                assert listed[0]["last_period"] == content["period"]["key"]
