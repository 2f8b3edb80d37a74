"""Submitting ratings, comments and impressions over real HTTP."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from conftest import LiveServer
from scorelet.tokens import Signer

ON_EVERY_BACKEND = True


def submit(server: LiveServer, **body: Any) -> Any:
    with server.client() as client:
        return client.post("/api/v1/responses", json=body)


def score_of(server: LiveServer, slug: str, **params: str) -> dict[str, Any]:
    with server.reader() as client:
        response = client.get(f"/api/v1/touchpoints/{slug}/score", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(server: LiveServer, response_id: str) -> dict[str, Any]:
    with server.reader() as client:
        response = client.get(f"/api/v1/responses/{response_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_submit_returns_201_with_the_stored_response(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat", scale="stars")
    response = submit(server, token=tp["embed_token"], score=4, comment="quick")
    assert response.status_code == 201
    body = response.json()
    assert body["score"] == 4
    assert body["comment"] == "quick"
    assert body["touchpoint"] == tp["slug"]
    assert response.headers["location"] == f"/api/v1/responses/{body['id']}"
    assert stored(server, body["id"]) == body


def test_text_plain_bodies_are_accepted_for_the_widget(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        response = client.post(
            "/api/v1/responses",
            content=json.dumps({"token": tp["embed_token"], "score": 5}),
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
    assert response.status_code == 201
    assert score_of(server, tp["slug"])["responses"] == 1


def test_a_number_without_a_fraction_is_that_integer(server: LiveServer) -> None:
    """JSON has one number type: 4.0 and 4e0 are the score 4 (as JavaScript reads them)."""
    tp = server.add_touchpoint()
    with server.client() as client:
        for text in ("4.0", "4e0"):
            body = f'{{"token": "{tp["embed_token"]}", "score": {text}}}'
            response = client.post(
                "/api/v1/responses", content=body, headers={"content-type": "application/json"}
            )
            assert (response.status_code, response.json()["score"]) == (201, 4), response.text
    assert score_of(server, tp["slug"])["distribution"]["4"] == 2


def test_other_methods_on_the_current_rating_are_405_with_allow(server: LiveServer) -> None:
    with server.client() as client:
        for method in ("PATCH", "DELETE", "OPTIONS"):
            response = client.request(method, "/api/v1/responses/current")
            assert response.status_code == 405, response.text
            assert response.headers["allow"] == "HEAD, GET"
            assert response.json()["code"] == "method_not_allowed"


def test_reposting_the_same_client_id_is_idempotent(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    client_id = str(uuid.uuid4())
    first = submit(server, token=tp["embed_token"], score=2, id=client_id)
    again = submit(server, token=tp["embed_token"], score=2, id=client_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] == client_id
    assert score_of(server, tp["slug"])["responses"] == 1


def test_reposting_a_client_id_with_a_new_score_replaces_it(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    client_id = str(uuid.uuid4())
    submit(server, token=tp["embed_token"], score=1, id=client_id)
    changed = submit(server, token=tp["embed_token"], score=5, id=client_id)
    assert changed.status_code == 200
    body = score_of(server, tp["slug"])
    assert body["responses"] == 1
    assert body["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}


def test_a_client_id_from_another_touchpoint_conflicts(server: LiveServer) -> None:
    first, second = server.add_touchpoint(), server.add_touchpoint()
    client_id = str(uuid.uuid4())
    assert submit(server, token=first["embed_token"], score=3, id=client_id).status_code == 201
    clash = submit(server, token=second["embed_token"], score=3, id=client_id)
    assert clash.status_code == 409
    assert clash.json()["code"] == "id_conflict"
    assert score_of(server, second["slug"])["responses"] == 0


def subject_token(server: LiveServer, slug: str, subject: str, **context: str) -> str:
    signer = Signer(server.settings.secrets)
    return signer.mint_subject(slug, subject, context, expires_at=4_000_000_000)


def test_a_subjects_second_rating_replaces_the_first(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    token = subject_token(server, tp["slug"], "conv_1", agent="alice")
    first = submit(server, token=token, score=3, comment="slow")
    second = submit(server, token=token, score=10)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["comment"] == "slow"  # kept when the new rating has none
    body = score_of(server, tp["slug"])
    assert body["responses"] == 1
    assert body["promoters"]["count"] == 1
    assert body["detractors"]["count"] == 0


def breakdown_of(server: LiveServer, slug: str, by: str) -> dict[str, int]:
    with server.reader() as client:
        response = client.get(f"/api/v1/touchpoints/{slug}/breakdown", params={"by": by})
    assert response.status_code == 200, response.text
    return {group["value"]: group["responses"] for group in response.json()["groups"]}


def get_rating(server: LiveServer, response_id: str) -> Any:
    with server.reader() as client:
        return client.get(f"/api/v1/responses/{response_id}")


def test_a_subject_token_refuses_context_from_the_body(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    token = subject_token(server, tp["slug"], "conv_2", agent="alice")
    forged = submit(server, token=token, score=5, context={"team": "forged", "channel": "phone"})
    assert forged.status_code == 422
    assert forged.json()["code"] == "context_not_allowed"
    assert forged.json()["field"] == "context"
    assert score_of(server, tp["slug"])["responses"] == 0
    assert breakdown_of(server, tp["slug"], "team") == {}
    signed = submit(server, token=token, score=5, context={})  # empty adds nothing: fine
    assert signed.status_code == 201
    assert signed.json()["context"] == {"agent": "alice"}
    assert breakdown_of(server, tp["slug"], "agent") == {"alice": 1}


def test_an_embed_token_rating_keeps_the_pages_context(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    response = submit(server, token=tp["embed_token"], score=4, context={"page": "/pricing"})
    assert response.status_code == 201
    assert response.json()["context"] == {"page": "/pricing"}


def test_a_rerating_with_a_reminted_token_stores_exactly_its_context(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    first = submit(
        server, token=subject_token(server, tp["slug"], "conv_9", team="billing"), score=2
    )
    again = submit(server, token=subject_token(server, tp["slug"], "conv_9", agent="bob"), score=4)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["context"] == {"agent": "bob"}
    assert get_rating(server, first.json()["id"]).json()["context"] == {"agent": "bob"}
    assert breakdown_of(server, tp["slug"], "team") == {}
    assert breakdown_of(server, tp["slug"], "agent") == {"bob": 1}


def test_simultaneous_posts_from_one_browser_make_one_rating(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    start = threading.Barrier(12)
    answers: list[tuple[int, str]] = []

    def post(score: int) -> None:
        start.wait()
        response = submit(server, token=tp["embed_token"], score=score, client="c" * 16 + "race")
        answers.append((response.status_code, response.json()["id"]))

    threads = [threading.Thread(target=post, args=(1 + i % 5,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200] * 11 + [201]
    assert len({response_id for _, response_id in answers}) == 1
    assert score_of(server, tp["slug"])["responses"] == 1


def test_an_id_naming_another_subjects_rating_conflicts(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    alice = submit(server, token=subject_token(server, tp["slug"], "conv_a"), score=1).json()
    bob_token = subject_token(server, tp["slug"], "conv_b")
    bob = submit(server, token=bob_token, score=2).json()
    clash = submit(server, token=bob_token, score=5, id=alice["id"])
    assert clash.status_code == 409
    assert clash.json()["code"] == "id_conflict"
    assert get_rating(server, alice["id"]).json()["score"] == 1
    assert get_rating(server, bob["id"]).json()["score"] == 2
    # A fresh id (the widget's own, before it learns the stored one) still replaces.
    fresh = submit(server, token=bob_token, score=4, id=str(uuid.uuid4()))
    assert fresh.status_code == 200
    assert fresh.json()["id"] == bob["id"]


def test_a_rating_is_shown_by_id_to_a_read_key_only(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    created = submit(server, token=tp["embed_token"], score=3, comment="ok").json()
    shown = get_rating(server, created["id"])
    assert shown.status_code == 200
    assert shown.json() == created
    with server.client() as anonymous:
        assert anonymous.get(f"/api/v1/responses/{created['id']}").status_code == 401
    missing = get_rating(server, str(uuid.uuid4()))
    assert (missing.status_code, missing.json()["code"]) == (404, "response_not_found")
    assert get_rating(server, "not-a-uuid").json()["field"] == "id"


def test_a_deleted_rating_leaves_every_figure_as_if_never_given(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    kept = submit(server, token=tp["embed_token"], score=9, context={"agent": "ann"}).json()
    spam = submit(server, token=tp["embed_token"], score=0, context={"agent": "bot"}).json()
    since = {"since": "2020-01-01"}
    with server.reader() as reader:
        assert reader.delete(f"/api/v1/responses/{spam['id']}").status_code == 403
    with server.admin() as admin:
        assert admin.delete(f"/api/v1/responses/{spam['id']}").status_code == 204
        again = admin.delete(f"/api/v1/responses/{spam['id']}")
        assert (again.status_code, again.json()["code"]) == (404, "response_not_found")
    for params in ({}, since):
        body = score_of(server, tp["slug"], **params)
        assert (body["responses"], body["score"]) == (1, 100.0)
    assert breakdown_of(server, tp["slug"], "agent") == {"ann": 1}
    with server.reader() as reader:
        series = reader.get(f"/api/v1/touchpoints/{tp['slug']}/series").json()["buckets"]
        listed = reader.get(f"/api/v1/touchpoints/{tp['slug']}/responses").json()["responses"]
        exported = reader.get(
            f"/api/v1/touchpoints/{tp['slug']}/responses", params={"format": "ndjson"}
        ).text
    assert sum(bucket["responses"] for bucket in series) == 1
    assert [row["id"] for row in listed] == [kept["id"]]
    assert [json.loads(line)["id"] for line in exported.splitlines()] == [kept["id"]]


def test_comment_is_added_with_patch_and_the_same_token(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    created = submit(server, token=tp["embed_token"], score=4).json()
    with server.client() as client:
        patched = client.patch(
            f"/api/v1/responses/{created['id']}",
            json={"token": tp["embed_token"], "comment": "Fast delivery\nthanks"},
        )
    assert patched.status_code == 200
    assert patched.json()["comment"] == "Fast delivery\nthanks"
    assert stored(server, created["id"])["comment"] == "Fast delivery\nthanks"


def test_patch_with_another_touchpoints_token_is_refused(server: LiveServer) -> None:
    tp, other = server.add_touchpoint(), server.add_touchpoint()
    created = submit(server, token=tp["embed_token"], score=4).json()
    with server.client() as client:
        response = client.patch(
            f"/api/v1/responses/{created['id']}",
            json={"token": other["embed_token"], "comment": "hijack"},
        )
    assert response.status_code == 403
    assert response.json()["code"] == "token_mismatch"
    assert stored(server, created["id"])["comment"] is None


def test_patch_of_an_unknown_response_is_404(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        response = client.patch(
            f"/api/v1/responses/{uuid.uuid4()}", json={"token": tp["embed_token"], "comment": "x"}
        )
    assert response.status_code == 404
    assert response.json()["code"] == "response_not_found"


def test_impressions_are_counted_for_the_response_rate(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        for _ in range(4):
            assert (
                client.post("/api/v1/impressions", json={"token": tp["embed_token"]}).status_code
                == 204
            )
    submit(server, token=tp["embed_token"], score=5, shown=True)
    body = score_of(server, tp["slug"])
    assert body["impressions"] == 4
    assert body["answered_impressions"] == 1
    assert body["response_rate"] == 25.0


def test_ratings_that_had_no_display_never_inflate_the_response_rate(server: LiveServer) -> None:
    """API, hosted-page and email ratings used to make "600%" out of one display."""
    tp = server.add_touchpoint()
    with server.client() as client:
        client.post("/api/v1/impressions", json={"token": tp["embed_token"]})
    for score in (5, 4, 3, 5, 2, 1):
        assert submit(server, token=tp["embed_token"], score=score).status_code == 201
    body = score_of(server, tp["slug"])
    assert (body["responses"], body["impressions"], body["response_rate"]) == (6, 1, 0.0)
    window = score_of(server, tp["slug"], since="2000-01-01")
    assert (window["impressions"], window["response_rate"]) == (1, 0.0)


def test_without_impressions_the_rate_is_null_with_a_reason(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    submit(server, token=tp["embed_token"], score=5)
    body = score_of(server, tp["slug"])
    assert (body["response_rate"], body["response_rate_reason"]) == (None, "no_impressions")
    filtered = score_of(server, tp["slug"], agent="alice")
    assert (filtered["response_rate"], filtered["response_rate_reason"]) == (
        None,
        "context_filters",
    )


def test_shown_must_be_a_boolean(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    answer = submit(server, token=tp["embed_token"], score=5, shown="yes")
    assert (answer.status_code, answer.json()["field"]) == (422, "shown")
    assert score_of(server, tp["slug"])["responses"] == 0


def test_rotated_embed_token_is_revoked(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.admin() as client:
        rotated = client.patch(f"/api/v1/touchpoints/{tp['slug']}", json={"rotate_token": True})
    assert rotated.status_code == 200
    old = submit(server, token=tp["embed_token"], score=3)
    assert old.status_code == 403
    assert old.json()["code"] == "token_revoked"
    assert submit(server, token=rotated.json()["embed_token"], score=3).status_code == 201


def test_paused_touchpoint_refuses_ratings(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.admin() as client:
        client.patch(f"/api/v1/touchpoints/{tp['slug']}", json={"active": False})
    response = submit(server, token=tp["embed_token"], score=3)
    assert response.status_code == 403
    assert response.json()["code"] == "touchpoint_inactive"


def test_expired_subject_token_is_refused(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    token = Signer(server.settings.secrets).mint_subject(tp["slug"], "conv_x", {}, expires_at=1000)
    response = submit(server, token=token, score=3)
    assert response.status_code == 403
    assert response.json()["code"] == "token_expired"
    assert score_of(server, tp["slug"])["responses"] == 0


def test_cross_origin_posts_get_cors_headers_and_preflight(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        posted = client.post(
            "/api/v1/responses",
            json={"token": tp["embed_token"], "score": 5},
            headers={"origin": "https://shop.example"},
        )
        preflight = client.options(
            "/api/v1/responses/abc",
            headers={"origin": "https://shop.example", "access-control-request-method": "PATCH"},
        )
    assert posted.headers["access-control-allow-origin"] == "https://shop.example"
    assert preflight.status_code == 204
    assert "PATCH" in preflight.headers["access-control-allow-methods"]


def test_origins_restrict_where_ratings_come_from(server: LiveServer) -> None:
    tp = server.add_touchpoint(origins=["https://shop.example"])
    with server.client() as client:
        allowed = client.post(
            "/api/v1/responses",
            json={"token": tp["embed_token"], "score": 5},
            headers={"origin": "https://shop.example"},
        )
        refused = client.post(
            "/api/v1/responses",
            json={"token": tp["embed_token"], "score": 5},
            headers={"origin": "https://evil.example"},
        )
    assert allowed.status_code == 201
    assert refused.status_code == 403
    assert refused.json()["code"] == "origin_not_allowed"
    assert score_of(server, tp["slug"])["responses"] == 1
