"""Touchpoint management and score endpoints over real HTTP, with API keys."""

from __future__ import annotations

import time
from typing import Any

import pytest

from backends import Given
from conftest import LiveServer
from scorelet.cli import main


def post_scores(server: LiveServer, token: str, scores: list[int]) -> None:
    with server.client() as client:
        for score in scores:
            assert (
                client.post("/api/v1/responses", json={"token": token, "score": score}).status_code
                == 201
            )


def get_score(server: LiveServer, slug: str, **params: Any) -> dict[str, Any]:
    with server.reader() as client:
        response = client.get(f"/api/v1/touchpoints/{slug}/score", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_csat_score_reports_every_field(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat", scale="stars")
    post_scores(server, tp["embed_token"], [5, 5, 4, 3, 1])
    body = get_score(server, tp["slug"])
    assert body["metric"] == "csat"
    assert body["responses"] == 5
    assert body["satisfied"] == 3
    assert body["score"] == 60.0
    assert body["mean"] == 3.6
    assert body["distribution"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 2}
    assert body["interval"] == {"low": 23.1, "high": 88.2, "level": 0.95}
    assert body["impressions"] == 0
    assert body["response_rate"] is None


def test_nps_score_reports_the_three_groups(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    post_scores(server, tp["embed_token"], [10, 9, 8, 7, 6, 0, 10, 10])
    body = get_score(server, tp["slug"])
    assert body["responses"] == 8
    assert body["promoters"] == {"count": 4, "percent": 50.0}
    assert body["passives"] == {"count": 2, "percent": 25.0}
    assert body["detractors"] == {"count": 2, "percent": 25.0}
    assert body["score"] == 25.0
    assert body["interval"]["low"] < 25.0 < body["interval"]["high"]
    assert sum(body["distribution"].values()) == 8
    assert list(body["distribution"]) == [str(n) for n in range(11)]


def test_no_responses_means_null_scores(server: LiveServer) -> None:
    for metric in ("csat", "nps"):
        tp = server.add_touchpoint(metric=metric)
        body = get_score(server, tp["slug"])
        assert body["responses"] == 0
        assert body["score"] is None
        assert body["interval"]["low"] is None


def test_satisfied_from_override_changes_csat(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat", scale="numeric:7", satisfied_from=5)
    post_scores(server, tp["embed_token"], [7, 6, 5, 4, 1])
    body = get_score(server, tp["slug"])
    assert (body["satisfied"], body["score"]) == (3, 60.0)


def test_smileys3_counts_only_the_happy_face(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat", scale="smileys3")
    post_scores(server, tp["embed_token"], [3, 2, 2, 1])
    assert get_score(server, tp["slug"])["score"] == 25.0


def test_since_and_until_cut_through_days_exactly(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat")
    day = 86400 * 20000  # 2024-10-04 00:00 UTC
    moments = [day - 10, day + 3600, day + 86400 + 7200, day + 2 * 86400 + 60, day + 5 * 86400]
    scores = [5, 4, 3, 2, 1]
    server.load(tp["slug"], [Given(at, score) for at, score in zip(moments, scores, strict=True)])
    full = get_score(server, tp["slug"])
    assert full["responses"] == 5
    window = get_score(
        server, tp["slug"], since="2024-10-04T00:30:00Z", until=str(day + 2 * 86400 + 61)
    )
    assert window["responses"] == 3
    assert window["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 0}
    assert window["since"] == "2024-10-04T00:30:00.000Z"
    assert get_score(server, tp["slug"], since="2024-10-05")["responses"] == 3
    assert get_score(server, tp["slug"], until="2024-10-04")["responses"] == 1


def test_context_filters_narrow_the_score(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat")
    with server.client() as client:
        for score, agent, team in [
            (5, "alice", "billing"),
            (1, "bob", "billing"),
            (4, "alice", "sales"),
        ]:
            client.post(
                "/api/v1/responses",
                json={
                    "token": tp["embed_token"],
                    "score": score,
                    "context": {"agent": agent, "team": team},
                },
            )
    assert get_score(server, tp["slug"], agent="alice")["responses"] == 2
    both = get_score(server, tp["slug"], agent="alice", team="billing")
    assert (both["responses"], both["score"], both["filters"]) == (
        1,
        100.0,
        {"agent": "alice", "team": "billing"},
    )
    assert both["impressions"] is None
    assert both["response_rate"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-01"}, "until"),
        ({"bad key!": "x"}, "bad key!"),
        ({"by": "agent"}, "by"),
    ],
)
def test_bad_score_queries_are_400(server: LiveServer, params: dict[str, str], field: str) -> None:
    tp = server.add_touchpoint()
    with server.reader() as client:
        response = client.get(f"/api/v1/touchpoints/{tp['slug']}/score", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_query"
    assert response.json()["field"] == field


def test_duplicate_query_parameters_are_refused(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.reader() as client:
        response = client.get(f"/api/v1/touchpoints/{tp['slug']}/score?agent=a&agent=b")
    assert response.status_code == 400


def test_score_of_an_unknown_touchpoint_is_404(server: LiveServer) -> None:
    with server.reader() as client:
        response = client.get("/api/v1/touchpoints/nope/score")
    assert response.status_code == 404
    assert response.json()["code"] == "touchpoint_not_found"


def test_score_needs_a_read_key(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    url = f"/api/v1/touchpoints/{tp['slug']}/score"
    with server.client() as anonymous:
        missing = anonymous.get(url)
        wrong = anonymous.get(url, headers={"authorization": "Bearer slk_00000000_nope"})
        basic = anonymous.get(url, headers={"authorization": "Basic dXNlcjpwYXNz"})
    with server.client(server.mint_key) as minter:
        mint_only = minter.get(url)
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_api_key")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "bad_api_key")
    assert basic.status_code == 401
    assert (mint_only.status_code, mint_only.json()["code"]) == (403, "insufficient_scope")
    with server.admin() as admin:
        assert admin.get(url).status_code == 200  # admin includes read


def test_a_read_key_cannot_change_touchpoints(server: LiveServer) -> None:
    with server.reader() as client:
        response = client.post("/api/v1/touchpoints", json={"slug": "sneaky", "metric": "csat"})
    assert response.status_code == 403
    with server.reader() as client:
        assert client.get("/api/v1/touchpoints/sneaky").status_code == 404


def test_touchpoint_lifecycle_over_the_admin_api(server: LiveServer) -> None:
    with server.admin() as client:
        created = client.post(
            "/api/v1/touchpoints",
            json={
                "slug": "onboarding",
                "metric": "csat",
                "scale": "smileys",
                "question": "How was setup?",
                "origins": ["https://app.example.com/"],
                "locale": "de",
            },
        )
        assert created.status_code == 201
        body = created.json()
        assert body["scale"] == "smileys"
        assert body["origins"] == ["https://app.example.com"]
        assert body["satisfied_from"] == 4
        assert body["embed_url"].endswith(f"/s/{body['embed_token']}.js")
        duplicate = client.post("/api/v1/touchpoints", json={"slug": "onboarding", "metric": "nps"})
        assert (duplicate.status_code, duplicate.json()["code"]) == (409, "touchpoint_exists")
        updated = client.patch(
            "/api/v1/touchpoints/onboarding", json={"question": "Setup OK?", "cooldown_days": 30}
        )
        assert updated.json()["question"] == "Setup OK?"
        assert updated.json()["cooldown_days"] == 30
        immutable = client.patch("/api/v1/touchpoints/onboarding", json={"scale": "stars"})
        assert (immutable.status_code, immutable.json()["code"]) == (422, "immutable_field")
        listed = client.get("/api/v1/touchpoints").json()["touchpoints"]
        assert "onboarding" in [tp["slug"] for tp in listed]
        assert client.delete("/api/v1/touchpoints/onboarding").status_code == 204
        assert client.get("/api/v1/touchpoints/onboarding").status_code == 404
        assert client.delete("/api/v1/touchpoints/onboarding").status_code == 404
        again = client.post("/api/v1/touchpoints", json={"slug": "onboarding", "metric": "nps"})
        assert again.json()["embed_token"] != body["embed_token"]
    with server.client() as public:
        old = public.post("/api/v1/responses", json={"token": body["embed_token"], "score": 3})
        new = public.post(
            "/api/v1/responses", json={"token": again.json()["embed_token"], "score": 3}
        )
    assert (old.status_code, old.json()["code"]) == (403, "token_revoked")
    assert new.status_code == 201


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"slug": "Bad Slug", "metric": "csat"}, "slug", "invalid_value"),
        ({"slug": "x1", "metric": "ces"}, "metric", "invalid_value"),
        ({"slug": "x2", "metric": "nps", "scale": "stars"}, "scale", "invalid_value"),
        ({"slug": "x3", "metric": "csat", "scale": "nps"}, "scale", "invalid_value"),
        ({"slug": "x4", "metric": "csat", "scale": "numeric:42"}, "scale", "invalid_value"),
        ({"slug": "x5", "metric": "csat", "satisfied_from": 9}, "satisfied_from", "out_of_range"),
        ({"slug": "x6", "metric": "nps", "satisfied_from": 9}, "satisfied_from", "invalid_value"),
        ({"slug": "x7", "metric": "csat", "origins": ["ftp://x"]}, "origins", "invalid_value"),
        ({"slug": "x8", "metric": "csat", "cooldown_days": -1}, "cooldown_days", "out_of_range"),
        ({"slug": "x9", "metric": "csat", "question": "q" * 301}, "question", "too_long"),
        ({"slug": "y1", "metric": "csat", "locale": "english!"}, "locale", "invalid_value"),
        ({"slug": "y2", "metric": "csat", "colour": "red"}, "colour", "unknown_field"),
        ({"metric": "csat"}, "slug", "wrong_type"),
        ({"slug": "y3"}, "metric", "missing_field"),
        ({"slug": "y4", "metric": "csat", "cooldown_days": None}, "cooldown_days", "wrong_type"),
        ({"slug": "y5", "metric": "csat", "active": "yes"}, "active", "wrong_type"),
        ({"slug": "y6", "metric": "csat", "origins": ["https://a.example", 7]}, "origins",
         "wrong_type"),
        ({"slug": "y7", "metric": "csat", "sample": True}, "sample", "wrong_type"),
        ({"slug": "y8", "metric": "csat", "sample": 0}, "sample", "out_of_range"),
        ({"slug": "y9", "metric": "csat", "trigger": "event:"}, "trigger", "invalid_value"),
        ({"slug": "z1", "metric": "nps", "comment_prompts": {"low": "Why?"}},
         "comment_prompts.low", "unknown_field"),
        ({"slug": "z2", "metric": "csat", "comment_prompts": ["Why?"]}, "comment_prompts",
         "wrong_type"),
        ({"slug": "z3", "metric": "csat", "brand_accent": "red"}, "brand_accent",
         "invalid_value"),
        ({"slug": "z4", "metric": "csat", "brand_logo": "https://[::g]/a.png"}, "brand_logo",
         "invalid_value"),
        ({"slug": "z5", "metric": "csat", "origins": ["http://[::g]"]}, "origins",
         "invalid_value"),
    ],
)  # fmt: skip
def test_bad_touchpoints_are_refused(
    server: LiveServer, body: dict[str, Any], field: str, code: str
) -> None:
    with server.admin() as client:
        response = client.post("/api/v1/touchpoints", json=body)
        assert response.status_code == 422, response.text
        assert (response.json()["field"], response.json()["code"]) == (field, code)
        if "slug" in body and isinstance(body["slug"], str):
            assert client.get(f"/api/v1/touchpoints/{body['slug']}").status_code == 404


def test_healthz_and_openapi(server: LiveServer) -> None:
    with server.client() as client:
        health = client.get("/healthz")
        spec = client.get("/openapi.json")
    assert health.json()["status"] == "ok"
    assert health.headers["cache-control"] == "no-store"
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/api/v1/responses", "/api/v1/touchpoints/{slug}/score", "/healthz"):
        assert path in paths


def test_revoked_key_stops_working_at_once(fresh_server: LiveServer) -> None:
    key_id = fresh_server.read_key.split("_")[1]
    with fresh_server.reader() as client:
        assert client.get("/api/v1/touchpoints").status_code == 200
    # The CLI revokes in the database; the server notices within a second.
    data = str(fresh_server.settings.data_dir)
    assert main(["key", "revoke", key_id, "--data", data]) == 0
    deadline = time.monotonic() + 5
    status = 200
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        with fresh_server.reader() as client:
            status = client.get("/api/v1/touchpoints").status_code
    assert status == 401


def test_a_key_made_by_the_cli_a_moment_ago_works_at_once(fresh_server: LiveServer) -> None:
    from conftest import make_keys

    _, read_key, _ = make_keys(
        fresh_server.settings.data_dir, fresh_server.backend
    )  # another process's write
    with fresh_server.client(read_key) as client:
        assert client.get("/api/v1/touchpoints").status_code == 200
