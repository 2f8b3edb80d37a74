"""SIGKILL `scorelet serve` with deliveries pending: after a restart every one is delivered,
none is lost, and Linear gets no second issue for the one whose answer was lost."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from backends import BACKENDS, database_env
from conftest import make_keys
from receivers import LinearReceiver, SlackReceiver, receiving, wait_for
from test_serve import serving, setup_touchpoint

ENV = {
    "SCORELET_ALLOW_PRIVATE_DESTINATIONS": "1",
    "SCORELET_DELIVERY_LEASE": "2",
    "SCORELET_RETRY_SCHEDULE": "0,0.5,0.5,0.5,0.5",
    "SCORELET_RATE_LIMIT": "off",
}
RATINGS = 12


@pytest.mark.parametrize("kind", BACKENDS)
def test_deliveries_pending_at_a_sigkill_go_out_after_the_restart_once(
    kind: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    token = setup_touchpoint(data, kind=kind)
    admin_key = make_keys(data, kind)[0]
    env = {**ENV, **database_env(kind, data)}
    headers = {"authorization": f"Bearer {admin_key}"}
    with receiving(SlackReceiver) as slack, receiving(LinearReceiver) as linear:
        slack.hang.set()  # Slack takes the requests but never answers
        linear.lose_answer_once.set()  # Linear makes the first issue; its answer is lost
        acked: list[str] = []
        with serving(data, env) as (process, url):
            with httpx.Client(base_url=url, headers=headers, timeout=10) as admin:
                for body in (
                    {"name": "fires", "type": "slack", "url": slack.url},
                    {
                        "name": "tickets",
                        "type": "linear",
                        "api_key": linear.key,
                        "team": linear.team,
                        "api_url": linear.url,
                    },
                ):
                    assert admin.post("/api/v1/destinations", json=body).status_code == 201
                rule = {"name": "lows", "score": "1..2", "notify": ["fires", "tickets"]}
                assert admin.post("/api/v1/rules", json=rule).status_code == 201
                for i in range(RATINGS):
                    answer = admin.post(
                        "/api/v1/responses", json={"token": token, "score": 1 + i % 2}
                    )
                    assert answer.status_code == 201
                    acked.append(answer.json()["id"])
            wait_for(lambda: slack.requests and linear.issues, what="both receivers were reached")
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert slack.messages == []
        assert len(linear.issues) == 1
        slack.hang.clear()
        slack.release.set()
        with serving(data, env) as (_, url):
            wait_for(lambda: len(slack.messages) >= RATINGS, seconds=60, what="every Slack message")
            wait_for(lambda: len(linear.issues) >= RATINGS, seconds=60, what="every Linear issue")
            with httpx.Client(base_url=url, headers=headers, timeout=10) as admin:

                def all_delivered() -> list[dict[str, object]]:
                    found = admin.get("/api/v1/deliveries?state=delivered").json()["deliveries"]
                    return found if len(found) == 2 * RATINGS else []

                delivered = wait_for(all_delivered, seconds=30, what="every delivery recorded")
        rated = {
            m["blocks"][-1]["elements"][0]["text"].split("/responses/")[1][:36]
            for m in slack.messages
        }
        assert rated == set(acked)  # none lost
        assert len(linear.issues) == RATINGS  # the lost answer's issue was found, not made again
        assert {d["response_id"] for d in delivered if d["destination"] == "tickets"} == set(acked)
