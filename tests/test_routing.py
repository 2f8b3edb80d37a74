"""Rules, destinations and deliveries end to end: a real server, real local receivers.

The receivers (tests/receivers.py) follow Slack's incoming-webhook and
Linear's GraphQL contracts and verify Standard Webhooks signatures with the
reference library. The server may send to them because the test sets
SCORELET_ALLOW_PRIVATE_DESTINATIONS (test_ssrf.py checks the refusals with
it off) and retries on a short schedule, so "down, then up" takes a second.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from conftest import LiveServer, run_server
from receivers import LinearReceiver, Scripted, SlackReceiver, WebhookReceiver, receiving, wait_for
from scorelet.routing.messages import PAYLOAD_SCHEMA

SCHEDULE = (0.0, 0.3, 0.3, 0.3)
ON_EVERY_BACKEND = True


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[LiveServer]:
    yield from run_server(
        tmp_path_factory.mktemp("routing"),
        backend=backend,
        allow_private_destinations=True,
        retry_schedule=SCHEDULE,
        rate_limit=False,
    )


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def add(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def rate(live: LiveServer, token: str, score: int, **extra: Any) -> dict[str, Any]:
    with live.client() as client:
        response = client.post("/api/v1/responses", json={"token": token, "score": score, **extra})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(live: LiveServer, destination: str) -> list[dict[str, Any]]:
    with live.admin() as admin:
        found: list[dict[str, Any]] = admin.get(
            "/api/v1/deliveries", params={"destination": destination}
        ).json()["deliveries"]
    return found


def test_a_one_star_rating_reaches_slack_and_linear_and_a_five_star_one_does_not(
    live: LiveServer,
) -> None:
    tp = live.add_touchpoint(question="How was checkout?")
    slack_name, linear_name = name("fires"), name("tickets")
    with receiving(SlackReceiver) as slack, receiving(LinearReceiver) as linear:
        with live.admin() as admin:
            add(
                admin,
                "/api/v1/destinations",
                {"name": slack_name, "type": "slack", "url": slack.url},
            )
            created = add(
                admin,
                "/api/v1/destinations",
                {
                    "name": linear_name,
                    "type": "linear",
                    "api_key": linear.key,
                    "team": linear.team,
                    "priority": 2,
                    "labels": ["Customer"],
                    "api_url": linear.url + "/graphql",
                },
            )
            assert created["api_key"] == "lin_…y123"  # masked from the start
            add(
                admin,
                "/api/v1/rules",
                {
                    "name": name("lows"),
                    "touchpoints": [tp["slug"]],
                    "score": "1..2",
                    "notify": [slack_name, linear_name],
                },
            )
        token = tp["embed_token"]
        happy = rate(live, token, 5, comment="lovely")
        unhappy = rate(live, token, 1, comment="Charged twice <!channel>", context={"agent": "ana"})
        wait_for(lambda: slack.messages and linear.issues, what="Slack and Linear")
        message = slack.messages[0]
        text = str(message["blocks"])
        assert "★☆☆☆☆ 1/5" in text
        assert tp["slug"] in text
        assert "> Charged twice &lt;!channel&gt;" in text  # quoted, and no mention sneaks in
        assert "*agent:* ana" in text
        assert f"/api/v1/responses/{unhappy['id']}" in text
        (issue,) = linear.issues.values()
        assert issue["teamId"] == linear.team
        assert issue["priority"] == 2
        assert issue["labelIds"] == ["label-1"]
        assert issue["title"].startswith("CSAT ★☆☆☆☆ 1/5 on")
        assert "> Charged twice <!channel>" in issue["description"]
        # The issue is kept on the rating and shown in its listing.
        listed = wait_for(
            lambda: [
                r for r in live.ratings(tp["slug"]) if r["id"] == unhappy["id"] and r["issues"]
            ],
            what="the issue on the rating",
        )
        assert listed[0]["issues"] == [
            {"destination": linear_name, "identifier": "SUP-1", "url": issue["url"]}
        ]
        assert all(r["issues"] == [] for r in live.ratings(tp["slug"]) if r["id"] == happy["id"])
        assert len(slack.messages) == 1  # the five-star rating went nowhere
        assert [d["state"] for d in deliveries(live, slack_name)] == ["delivered"]


def test_a_receiver_down_then_up_gets_the_delivery_once_after_a_retry(live: LiveServer) -> None:
    tp = live.add_touchpoint()
    destination = name("down")
    with receiving(SlackReceiver) as slack:
        slack.script = [Scripted(503, "down", {"retry-after": "0"}), Scripted(500, "still down")]
        with live.admin() as admin:
            add(
                admin,
                "/api/v1/destinations",
                {"name": destination, "type": "slack", "url": slack.url},
            )
            add(
                admin,
                "/api/v1/rules",
                {"name": name("all"), "touchpoints": [tp["slug"]], "notify": [destination]},
            )
        rate(live, tp["embed_token"], 2)
        wait_for(lambda: slack.messages, what="the delivery after the receiver came back")
        (delivery,) = wait_for(
            lambda: [d for d in deliveries(live, destination) if d["state"] == "delivered"]
        )
        assert delivery["attempts"] == 3
        assert len(slack.requests) == 3
        assert len(slack.messages) == 1


def test_webhooks_are_signed_per_standard_webhooks_with_a_versioned_payload(
    live: LiveServer,
) -> None:
    tp = live.add_touchpoint(metric="nps")
    destination = name("hook")
    with receiving(WebhookReceiver) as hook:
        with live.admin() as admin:
            created = add(
                admin,
                "/api/v1/destinations",
                {"name": destination, "type": "webhook", "url": hook.url},
            )
            assert created["secret"].startswith("whsec_")
            hook.secret = created["secret"]
            shown = admin.get(f"/api/v1/destinations/{destination}").json()
            assert shown["secret"] == "whsec_…" + created["secret"][-4:]
            assert created["secret"] not in str(admin.get("/api/v1/destinations").json())
            add(
                admin,
                "/api/v1/rules",
                {
                    "name": name("detractors"),
                    "group": "detractor",
                    "touchpoints": [tp["slug"]],
                    "notify": [destination],
                },
            )
        rate(live, tp["embed_token"], 9)
        given = rate(live, tp["embed_token"], 3, comment="too slow")
        (payload,) = wait_for(lambda: hook.payloads, what="the signed webhook")
        assert hook.refused == []
        jsonschema.validate(payload, PAYLOAD_SCHEMA)
        assert payload["type"] == "rating.created"
        assert payload["data"]["version"] == 1
        assert payload["data"]["delivery"] == payload["id"]
        assert payload["data"]["rating"]["id"] == given["id"]
        assert payload["data"]["rating"]["group"] == "detractor"


def test_wait_for_comment_sends_once_when_the_comment_comes(live: LiveServer) -> None:
    tp = live.add_touchpoint()
    destination = name("waits")
    with receiving(SlackReceiver) as slack:
        with live.admin() as admin:
            add(
                admin,
                "/api/v1/destinations",
                {"name": destination, "type": "slack", "url": slack.url},
            )
            add(
                admin,
                "/api/v1/rules",
                {
                    "name": name("wait"),
                    "touchpoints": [tp["slug"]],
                    "notify": [destination],
                    "wait_for_comment": "1h",
                },
            )
        rating = rate(live, tp["embed_token"], 1)
        (held,) = wait_for(lambda: deliveries(live, destination))
        assert held["waiting_for_comment"] is True
        with live.client() as client:
            patched = client.patch(
                f"/api/v1/responses/{rating['id']}",
                json={"token": tp["embed_token"], "comment": "the coupon never applied"},
            )
        assert patched.status_code == 200
        wait_for(lambda: slack.messages, what="the delivery released by the comment")
        assert "the coupon never applied" in str(slack.messages[0]["blocks"])
        assert len(slack.messages) == 1


def test_wait_for_comment_sends_without_one_when_the_time_passes(
    tmp_path: Path, backend: str
) -> None:
    from conftest import Clock

    clock = Clock()
    with receiving(SlackReceiver) as slack:
        for live in run_server(
            tmp_path / "data", clock=clock, backend=backend, allow_private_destinations=True
        ):
            tp = live.add_touchpoint()
            with live.admin() as admin:
                add(admin, "/api/v1/destinations", {"name": "w", "type": "slack", "url": slack.url})
                add(
                    admin, "/api/v1/rules", {"name": "w", "notify": ["w"], "wait_for_comment": "5m"}
                )
            rate(live, tp["embed_token"], 2)
            wait_for(lambda: deliveries(live, "w"), what="the held delivery")  # noqa: B023
            assert slack.requests == []
            clock.advance(301)
            wait_for(lambda: slack.messages, what="the delivery after the wait")
            blocks = slack.messages[0]["blocks"]
            assert [b["type"] for b in blocks] == ["header", "context"]  # no comment came


def test_a_hung_receiver_never_blocks_another_destination(live: LiveServer) -> None:
    tp = live.add_touchpoint()
    stuck, fine = name("stuck"), name("fine")
    with receiving(SlackReceiver) as hung, receiving(SlackReceiver) as slack:
        hung.hang.set()
        with live.admin() as admin:
            add(admin, "/api/v1/destinations", {"name": stuck, "type": "slack", "url": hung.url})
            add(admin, "/api/v1/destinations", {"name": fine, "type": "slack", "url": slack.url})
            add(
                admin,
                "/api/v1/rules",
                {"name": name("both"), "touchpoints": [tp["slug"]], "notify": [stuck, fine]},
            )
        for score in (1, 2, 3):
            rate(live, tp["embed_token"], score)
        started = time.monotonic()
        wait_for(lambda: len(slack.messages) == 3, what="the healthy destination's messages")
        assert hung.requests, "the hung receiver was tried"
        assert hung.messages == []
        # Slack's one message a second per webhook is kept, even catching up.
        gaps = [b - a for a, b in zip(slack.times, slack.times[1:], strict=False)]
        assert all(gap >= 0.95 for gap in gaps), gaps
        assert time.monotonic() - started < 10  # well inside the hung one's 15 s timeout


def test_429_waits_for_retry_after_and_410_disables_the_destination(live: LiveServer) -> None:
    tp = live.add_touchpoint()
    limited, gone = name("limited"), name("gone")
    with receiving(SlackReceiver) as slow, receiving(SlackReceiver) as archived:
        slow.script = [Scripted(429, "rate_limited", {"retry-after": "2"})]
        archived.script = [Scripted(410, "channel_is_archived")]
        with live.admin() as admin:
            for dest, receiver in ((limited, slow), (gone, archived)):
                add(
                    admin,
                    "/api/v1/destinations",
                    {"name": dest, "type": "slack", "url": receiver.url},
                )
            add(
                admin,
                "/api/v1/rules",
                {"name": name("r"), "touchpoints": [tp["slug"]], "notify": [limited, gone]},
            )
        rate(live, tp["embed_token"], 1)
        rate(live, tp["embed_token"], 2)
        (failed,) = wait_for(lambda: [d for d in deliveries(live, limited) if d["attempts"]])
        assert failed["state"] == "failed"
        assert failed["last_status"] == 429
        wait_for(lambda: len(slow.messages) == 2, what="both deliveries after Retry-After")
        first, *later = slow.requests
        # Retry-After: 2 held the whole destination, not just the one delivery, and beat
        # the 0.3 s retry schedule.
        assert all(request["at"] - first["at"] >= 1.9 for request in later)
        (dead,) = wait_for(lambda: [d for d in deliveries(live, gone) if d["state"] == "dead"])
        assert dead["last_status"] == 410
        with live.admin() as admin:
            shown = admin.get(f"/api/v1/destinations/{gone}").json()
        assert shown["enabled"] is False
        assert "410" in shown["disabled_reason"]


def test_bad_rules_and_destinations_are_refused_and_store_nothing(live: LiveServer) -> None:
    tp = live.add_touchpoint()
    with live.admin() as admin:
        cases = [
            ({"name": "r1", "score": "1..2"}, 422, "missing_action", "notify"),
            ({"name": "r2", "notify": ["nowhere"]}, 404, "destination_not_found", "notify"),
            ({"name": "r3", "add_tags": ["X"], "comment_matches": "(a"}, 422, "invalid_regex",
             "comment_matches"),
            ({"name": "r4", "add_tags": ["X"], "comment_matches": "(a+)+\\1"}, 422,
             "invalid_regex", "comment_matches"),
            ({"name": "r5", "add_tags": ["X"], "touchpoints": ["nope"]}, 404,
             "touchpoint_not_found", "touchpoints"),
            ({"name": "r6", "add_tags": ["X"], "notify": ["a"]}, 422, "two_actions", "add_tags"),
        ]  # fmt: skip
        for body, status, code, field in cases:
            answer = admin.post("/api/v1/rules", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert (answer.json()["code"], answer.json()["field"]) == (code, field)
        assert {r["name"] for r in admin.get("/api/v1/rules").json()["rules"]}.isdisjoint(
            {"r1", "r2", "r3", "r4", "r5", "r6"}
        )
        bad = admin.post("/api/v1/destinations", json={"name": "x", "type": "slack"})
        assert (bad.status_code, bad.json()["field"]) == (422, "url")
        slack = {"name": "s", "type": "slack", "url": "https://hooks.slack.com/services/T/B/x"}
        linear = {"name": "l", "type": "linear", "api_key": "lin_api_0123456789", "team": "T"}
        destinations = [
            ({**slack, "url": 5}, "url", "wrong_type"),
            ({**slack, "url": "https://[::g]/hook"}, "url", "invalid_value"),
            ({**slack, "team": "T"}, "team", "invalid_value"),
            ({**slack, "type": "email"}, "type", "invalid_value"),
            ({**slack, "name": "Fires!"}, "name", "invalid_value"),
            ({**slack, "secret": "mine"}, "secret", "unknown_field"),
            ({**linear, "priority": True}, "priority", "wrong_type"),
            ({**linear, "priority": 5}, "priority", "invalid_value"),
            ({**linear, "labels": ["Bug", 3]}, "labels", "wrong_type"),
            ({**linear, "labels": [""]}, "labels", "invalid_value"),
            ({**linear, "url": "https://api.linear.app/graphql"}, "url", "invalid_value"),
            ({**linear, "team": None}, "team", "invalid_value"),
        ]
        for body, field, code in destinations:
            answer = admin.post("/api/v1/destinations", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert (answer.json()["field"], answer.json()["code"]) == (field, code), body
        names = {d["name"] for d in admin.get("/api/v1/destinations").json()["destinations"]}
        assert names.isdisjoint({"s", "l"})
        some = "0192f1c2-7a5e-7c1b-9d3e-2f4a6b8c0d1e"
        for body, field, code in [
            ({}, "ids", "invalid_value"),
            ({"all_dead": False}, "ids", "invalid_value"),
            ({"ids": [some], "all_dead": True}, "ids", "invalid_value"),
            ({"ids": []}, "ids", "out_of_range"),
            ({"ids": ["not-a-uuid"]}, "ids", "invalid_value"),
            ({"ids": some}, "ids", "wrong_type"),
            ({"all_dead": "yes"}, "all_dead", "wrong_type"),
            ({"all_dead": True, "state": "dead"}, "state", "unknown_field"),
        ]:
            answer = admin.post("/api/v1/deliveries/retry", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert (answer.json()["field"], answer.json()["code"]) == (field, code), body
        unknown = admin.post("/api/v1/deliveries/retry", json={"ids": [some]})
        assert (unknown.status_code, unknown.json()["field"]) == (404, "ids")
        every = admin.post("/api/v1/deliveries/retry", json={"ids": None, "all_dead": True})
        assert every.status_code == 200
        assert {d["state"] for d in every.json()["deliveries"]} <= {"pending"}
    assert tp["slug"]
