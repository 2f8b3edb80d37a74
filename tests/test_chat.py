"""Rating conversations over real HTTP: minting tokens, one rating per subject, the hosted page."""

from __future__ import annotations

import re
import threading
import time
from html import unescape
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from conftest import SECRET, LiveServer
from receivers import wait_for
from scorelet.mint import mint_subject_token
from scorelet.timeutil import iso
from scorelet.tokens import Signer

ON_EVERY_BACKEND = True


def mint(server: LiveServer, key: str | None = None, **body: Any) -> httpx.Response:
    with server.client(key or server.mint_key) as client:
        return client.post("/api/v1/tokens", json=body)


def token_for(server: LiveServer, slug: str, subject: str, **context: str) -> str:
    response = mint(server, touchpoint=slug, subject=subject, context=context, ttl="1h")
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def expired_token(slug: str, subject: str) -> str:
    signer = Signer([SECRET])
    return mint_subject_token(signer, slug, subject, ttl=60, now=time.time() - 3600).token


def rows(server: LiveServer, slug: str) -> list[tuple[Any, ...]]:
    """(subject, score, comment, context) of every response to `slug`, oldest first."""
    return [(r["subject"], r["score"], r["comment"], r["context"]) for r in server.ratings(slug)]


def submit(server: LiveServer, token: str, score: int, **extra: Any) -> httpx.Response:
    with server.client() as client:
        return client.post("/api/v1/responses", json={"token": token, "score": score, **extra})


def score_of(server: LiveServer, slug: str, **params: str) -> dict[str, Any]:
    with server.reader() as client:
        body: dict[str, Any] = client.get(f"/api/v1/touchpoints/{slug}/score", params=params).json()
    return body


# -- minting -----------------------------------------------------------------------------


def test_mint_returns_token_expiry_rating_url_and_embed_snippets(server: LiveServer) -> None:
    tp = server.add_touchpoint(slug="support-mint", scale="stars")
    before = time.time()
    response = mint(
        server,
        touchpoint="support-mint",
        subject="conv_8812",
        context={"agent": "alice", "team": "billing"},
        ttl="14d",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    token = body["token"]
    assert token.startswith("s.")
    assert body["rating_url"] == f"{server.url}/r/{token}"
    expires = time.mktime(time.strptime(body["expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    expires -= time.timezone
    assert before + 14 * 86400 - 5 <= expires <= time.time() + 14 * 86400 + 5
    assert body["embed"]["html"] == f'<script src="{server.url}/s/{token}.js" async></script>'
    assert f'{{token: "{token}"}}' in body["embed"]["mount"]
    assert 'Scorelet("mount"' in body["embed"]["mount"]
    assert submit(server, token, 4).status_code == 201
    assert rows(server, tp["slug"]) == [
        ("conv_8812", 4, None, {"agent": "alice", "team": "billing"})
    ]


def test_mint_needs_a_mint_key(server: LiveServer) -> None:
    server.add_touchpoint(slug="support-scope")
    body = {"touchpoint": "support-scope", "subject": "c1"}
    with server.client() as anonymous:
        assert anonymous.post("/api/v1/tokens", json=body).status_code == 401
    wrong = mint(server, server.read_key, **body)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "insufficient_scope"
    assert mint(server, server.admin_key, **body).status_code == 201
    assert mint(server, "slk_00000000_forged", **body).status_code == 401


@pytest.fixture(scope="module")
def checks(server: LiveServer) -> dict[str, Any]:
    return server.add_touchpoint(slug="support-check")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"subject": "c1"}, "touchpoint", "missing_field"),
        ({"touchpoint": "support-check"}, "subject", "missing_field"),
        ({"touchpoint": "support-check", "subject": ""}, "subject", "invalid_value"),
        ({"touchpoint": "support-check", "subject": 7}, "subject", "wrong_type"),
        ({"touchpoint": "support-check", "subject": "x" * 201}, "subject", "too_long"),
        ({"touchpoint": "Not A Slug", "subject": "c1"}, "touchpoint", "invalid_value"),
        ({"touchpoint": "support-check", "subject": "c1", "ttl": "forever"}, "ttl", None),
        ({"touchpoint": "support-check", "subject": "c1", "ttl": "400d"}, "ttl", None),
        ({"touchpoint": "support-check", "subject": "c1", "ttl": True}, "ttl", "wrong_type"),
        ({"touchpoint": "support-check", "subject": "c1", "context": []}, "context", "wrong_type"),
        (
            {"touchpoint": "support-check", "subject": "c1", "context": {"agent": 1}},
            "context.agent",
            "wrong_type",
        ),
        (
            {"touchpoint": "support-check", "subject": "c1", "context": {"since": "x"}},
            "context.since",
            "bad_context_key",
        ),
        ({"touchpoint": "support-check", "subject": "c1", "agent": "x"}, "agent", "unknown_field"),
    ],
)
def test_mint_names_the_field_at_fault(
    server: LiveServer, checks: dict[str, Any], body: dict[str, Any], field: str, code: str | None
) -> None:
    response = mint(server, **body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field
    if code:
        assert problem["code"] == code


def test_mint_for_an_unknown_touchpoint_is_404(server: LiveServer) -> None:
    response = mint(server, touchpoint="no-such-touchpoint", subject="c1")
    assert response.status_code == 404
    assert response.json()["code"] == "touchpoint_not_found"
    assert response.json()["field"] == "touchpoint"


def test_a_tampered_token_is_refused_and_stores_nothing(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    token = token_for(server, tp["slug"], "conv-t", agent="alice")
    payload, _, signature = token[2:].rpartition(".")
    forged = "s." + payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1)
    forged += "." + signature
    other_secret = mint_subject_token(
        Signer(["another-secret-0123456789"]), tp["slug"], "c", ttl=60
    )
    for bad in (forged, other_secret.token, token[:-2]):
        response = submit(server, bad, 5)
        assert response.status_code == 403
        assert response.json()["code"] == "bad_token"
    assert rows(server, tp["slug"]) == []


def test_an_expired_token_is_refused_with_a_clear_error(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    response = submit(server, expired_token(tp["slug"], "conv-old"), 5)
    assert response.status_code == 403
    assert response.json()["code"] == "token_expired"
    assert rows(server, tp["slug"]) == []


def test_a_token_names_its_touchpoint_and_context_for_good(server: LiveServer) -> None:
    first, second = server.add_touchpoint(), server.add_touchpoint()
    token = token_for(server, first["slug"], "conv-ctx", agent="alice")
    relabelled = submit(server, token, 5, context={"agent": "mallory", "page": "/help"})
    assert relabelled.status_code == 422
    assert relabelled.json()["code"] == "context_not_allowed"
    response = submit(server, token, 5)
    assert response.status_code == 201
    assert response.json()["context"] == {"agent": "alice"}
    assert response.json()["touchpoint"] == first["slug"]
    assert rows(server, second["slug"]) == []


# -- one rating per conversation ------------------------------------------------------------


def test_rating_again_replaces_the_rating_and_counts_once(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-twice", agent="bob")
    first = submit(server, token, 2, comment="slow")
    wait_for(lambda: iso(time.time()) > first.json()["updated_at"], what="the next millisecond")
    second = submit(server, token, 5)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["comment"] == "slow"  # kept: no new comment was given
    assert second.json()["created_at"] == first.json()["created_at"]
    assert second.json()["updated_at"] > first.json()["updated_at"]
    third = submit(server, token, 4, comment="fine after all")
    assert third.json()["comment"] == "fine after all"
    assert rows(server, tp["slug"]) == [("conv-twice", 4, "fine after all", {"agent": "bob"})]
    body = score_of(server, tp["slug"])
    assert body["responses"] == 1
    assert body["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert score_of(server, tp["slug"], agent="bob")["responses"] == 1


def test_concurrent_double_submits_leave_one_rating(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-race")
    start = threading.Barrier(8)
    statuses: list[int] = []

    def post(score: int) -> None:
        start.wait()
        statuses.append(submit(server, token, score).status_code)

    threads = [threading.Thread(target=post, args=(1 + i % 5,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [201]
    assert len(rows(server, tp["slug"])) == 1
    assert score_of(server, tp["slug"])["responses"] == 1


# -- a conversation's own rating ------------------------------------------------------------


def current(server: LiveServer, token: str, **headers: str) -> httpx.Response:
    with server.client() as client:
        return client.get("/api/v1/responses/current", params={"token": token}, headers=headers)


def test_current_rating_is_null_then_the_latest(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-current", agent="alice")
    empty = current(server, token)
    assert empty.status_code == 200
    assert empty.json()["response"] is None
    assert empty.json()["subject"] == "conv-current"
    submit(server, token, 3)
    submit(server, token, 5, comment="great")
    body = current(server, token).json()["response"]
    assert (body["score"], body["comment"], body["subject"]) == (5, "great", "conv-current")
    other = token_for(server, tp["slug"], "conv-other")
    assert current(server, other).json()["response"] is None


def test_current_rating_refuses_embed_expired_and_forged_tokens(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    embed = current(server, tp["embed_token"])
    assert (embed.status_code, embed.json()["code"]) == (403, "subject_token_required")
    expired = current(server, expired_token(tp["slug"], "c"))
    assert (expired.status_code, expired.json()["code"]) == (403, "token_expired")
    assert current(server, "s.nonsense").json()["code"] == "bad_token"
    with server.client() as client:
        missing = client.get("/api/v1/responses/current")
    assert (missing.status_code, missing.json()["field"]) == (422, "token")


def test_current_rating_is_readable_cross_origin_from_allowed_origins(server: LiveServer) -> None:
    tp = server.add_touchpoint(origins=["https://chat.example.com"])
    token = token_for(server, tp["slug"], "conv-cors")
    allowed = current(server, token, origin="https://chat.example.com")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.com"
    refused = current(server, token, origin="https://evil.example.com")
    assert refused.status_code == 403
    assert refused.json()["code"] == "origin_not_allowed"


# -- the hosted page ------------------------------------------------------------------------


def page(server: LiveServer, token: str, **params: str) -> httpx.Response:
    with server.client() as client:
        return client.get(f"/r/{quote(token)}", params=params)


def post_page(server: LiveServer, token: str, **form: str) -> httpx.Response:
    with server.client() as client:
        return client.post(f"/r/{quote(token)}", data=form)


def checked(html: str) -> list[str]:
    return re.findall(r'name="score" value="(\d+)" id="s\d+" checked', html)


def assert_strict_html(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "<style" not in response.text
    assert re.findall(r"<script(?![^>]*\bsrc=)", response.text) == []
    assert " style=" not in response.text


def test_rating_url_from_the_api_opens_the_hosted_page(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars", question="How did Alice do?")
    minted = mint(server, touchpoint=tp["slug"], subject="conv-url", context={"agent": "alice"})
    rating_url = minted.json()["rating_url"]
    with httpx.Client(timeout=10) as client:
        response = client.get(rating_url)
        assert response.status_code == 200
        assert_strict_html(response)
        assert "How did Alice do?" in response.text
        assert 'class="mount" data-token="' in response.text
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', response.text):
            assert client.get(server.url + asset).status_code == 200, asset
        confirm = client.get(rating_url, params={"score": "5"})
        saved = client.post(rating_url, data={"score": "5"})
    assert confirm.status_code == 200
    assert saved.status_code == 200
    assert rows(server, tp["slug"]) == [("conv-url", 5, None, {"agent": "alice"})]


def test_a_get_with_a_score_only_preselects_it(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-prefetch")
    response = page(server, token, score="4")
    assert response.status_code == 200
    assert_strict_html(response)
    assert checked(response.text) == ["4"]
    assert 'method="post"' in response.text
    assert "Confirm rating" in response.text
    with server.client() as client:
        assert client.head(f"/r/{token}", params={"score": "4"}).status_code == 200
    assert rows(server, tp["slug"]) == []
    assert score_of(server, tp["slug"])["responses"] == 0


def test_posting_the_confirm_form_records_then_offers_the_comment_box(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-confirm", agent="carol")
    saved = post_page(server, token, score="4")
    assert saved.status_code == 200
    assert_strict_html(saved)
    assert "Thank you for your feedback!" in saved.text
    assert 'name="comment"' in saved.text
    assert rows(server, tp["slug"]) == [("conv-confirm", 4, None, {"agent": "carol"})]
    response_id = re.search(r'name="id" value="([^"]+)"', saved.text)
    assert response_id
    commented = post_page(server, token, id=response_id[1], comment="Quick and kind")
    assert commented.status_code == 200
    assert "Quick and kind" in commented.text
    assert rows(server, tp["slug"]) == [("conv-confirm", 4, "Quick and kind", {"agent": "carol"})]


def test_a_second_click_on_another_score_changes_it(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-mind")
    post_page(server, token, score="5")
    post_page(server, token, id="", comment="")
    again = page(server, token, score="2")
    assert checked(again.text) == ["2"]
    assert "Your rating: 5 stars" in again.text
    assert rows(server, tp["slug"])[0][1] == 5  # the GET changed nothing
    post_page(server, token, score="2")
    assert [(r[1]) for r in rows(server, tp["slug"])] == [2]
    assert score_of(server, tp["slug"])["distribution"]["2"] == 1
    assert checked(page(server, token).text) == ["2"]  # the page shows the current rating


@pytest.mark.parametrize("raw", ["0", "6", "-1", "abc", "", "4.0", "99999999999"])
def test_an_off_scale_score_gets_a_friendly_400_page(server: LiveServer, raw: str) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-range")
    response = page(server, token, score=raw)
    assert response.status_code == 400
    assert_strict_html(response)
    assert "isn't on this scale" in unescape(response.text)
    assert post_page(server, token, score=raw).status_code == 400
    assert rows(server, tp["slug"]) == []


@pytest.mark.parametrize("raw", ["-0", "+5", " -0 "])
def test_a_signed_score_is_refused_on_nps_as_on_stars(server: LiveServer, raw: str) -> None:
    tp = server.add_touchpoint(metric="nps")
    token = token_for(server, tp["slug"], "conv-sign")
    assert page(server, token, score=raw).status_code == 400
    assert post_page(server, token, score=raw).status_code == 400
    assert rows(server, tp["slug"]) == []


@pytest.mark.parametrize(
    "form",
    [
        "score=4&context=team%3Dforged",
        "score=4&agent=mallory",
        "score=1&score=5",
    ],
)
def test_a_form_with_extra_or_repeated_fields_stores_nothing(server: LiveServer, form: str) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-form", agent="alice")
    with server.client() as client:
        response = client.post(
            f"/r/{quote(token)}",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 400
    assert_strict_html(response)
    assert rows(server, tp["slug"]) == []


def test_an_expired_link_gets_a_410_page_and_stores_nothing(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = expired_token(tp["slug"], "conv-expired")
    for response in (page(server, token), page(server, token, score="5")):
        assert response.status_code == 410
        assert_strict_html(response)
        assert "This rating link has expired" in response.text
        assert 'method="post"' not in response.text
    assert post_page(server, token, score="5").status_code == 410
    assert rows(server, tp["slug"]) == []


def test_an_expired_link_speaks_its_touchpoints_language(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars", locale="it")
    response = page(server, expired_token(tp["slug"], "conv-scaduto"))
    assert response.status_code == 410
    assert '<html lang="it">' in response.text
    assert "Questo link di valutazione è scaduto" in response.text


def test_broken_links_get_a_404_page(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    gone = Signer([SECRET])
    missing_touchpoint = mint_subject_token(gone, "deleted-touchpoint", "c", ttl=60).token
    for token in ("s.garbage", tp["embed_token"], missing_touchpoint, "x" * 5000):
        response = page(server, token, score="5")
        assert response.status_code == 404, token[:20]
        assert "This link doesn't work" in unescape(response.text)
        assert post_page(server, token, score="5").status_code == 404
    assert rows(server, tp["slug"]) == []


def test_a_paused_touchpoint_gets_a_403_page(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    token = token_for(server, tp["slug"], "conv-paused")
    with server.admin() as admin:
        admin.patch(f"/api/v1/touchpoints/{tp['slug']}", json={"active": False})
    assert page(server, token).status_code == 403
    assert post_page(server, token, score="5").status_code == 403
    assert rows(server, tp["slug"]) == []


def test_the_page_speaks_the_touchpoints_language(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars", locale="de")
    token = token_for(server, tp["slug"], "conv-de")
    response = page(server, token, score="4")
    assert '<html lang="de">' in response.text
    assert "Wie zufrieden sind Sie?" in response.text
    assert "Bewertung bestätigen" in response.text
    assert "4 Sterne" in response.text
    french = server.add_touchpoint(scale="smileys")
    token = token_for(server, french["slug"], "conv-fr")
    with server.client() as client:
        browser = client.get(f"/r/{token}", headers={"accept-language": "fr-CA,fr;q=0.9"})
    assert "Êtes-vous satisfait ?" in browser.text
    assert "Très satisfait" in browser.text


def test_nps_pages_show_the_0_to_10_scale_and_its_ends(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    token = token_for(server, tp["slug"], "conv-nps")
    response = page(server, token, score="0")
    assert checked(response.text) == ["0"]
    assert re.findall(r'name="score" value="(\d+)"', response.text) == [str(n) for n in range(11)]
    assert "Not at all likely" in response.text
    post_page(server, token, score="0")
    assert score_of(server, tp["slug"])["score"] == -100


def test_the_hosted_pages_own_origin_may_submit_to_an_origin_locked_touchpoint(
    server: LiveServer,
) -> None:
    tp = server.add_touchpoint(origins=["https://chat.example.com"])
    token = token_for(server, tp["slug"], "conv-own")
    with server.client() as client:
        own = client.post(
            "/api/v1/responses", json={"token": token, "score": 5}, headers={"origin": server.url}
        )
        foreign = client.post(
            "/api/v1/responses",
            json={"token": token, "score": 1},
            headers={"origin": "http://127.0.0.1:1"},
        )
    assert own.status_code == 201
    assert foreign.status_code == 403
    assert [r[1] for r in rows(server, tp["slug"])] == [5]


# -- the API description ----------------------------------------------------------------------


def test_chat_answers_match_the_openapi_schemas(server: LiveServer) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()

    def check(schema: str, instance: Any) -> None:
        root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
        jsonschema.Draft202012Validator(root).validate(instance)

    tp = server.add_touchpoint(scale="stars")
    minted = mint(server, touchpoint=tp["slug"], subject="conv-doc", context={"agent": "a"})
    check("MintedToken", minted.json())
    check("Problem", mint(server, touchpoint=tp["slug"]).json())
    token = minted.json()["token"]
    check("CurrentRating", current(server, token).json())
    submit(server, token, 3, comment="ok")
    check("CurrentRating", current(server, token).json())
    check("Problem", current(server, tp["embed_token"]).json())
    for path in ("/api/v1/tokens", "/api/v1/responses/current", "/r/{token}"):
        assert path in document["paths"]


# -- what a dashboard reads back -------------------------------------------------------------


def test_rated_conversations_break_down_by_agent_counting_each_once(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    ratings = {"alice": [5, 5, 4, 2], "bob": [1, 3], "carol": [5]}
    for agent, scores in ratings.items():
        for n, given in enumerate(scores):
            token = token_for(server, tp["slug"], f"conv-{agent}-{n}", agent=agent, team="t1")
            submit(server, token, 1 if given > 1 else 5)  # a first rating, then a change of mind
            assert post_page(server, token, score=str(given)).status_code == 200
    with server.reader() as client:
        body = client.get(f"/api/v1/touchpoints/{tp['slug']}/breakdown", params={"by": "agent"})
    assert body.status_code == 200, body.text
    groups = {g["value"]: g for g in body.json()["groups"]}
    assert [g["value"] for g in body.json()["groups"]] == ["alice", "bob", "carol"]
    assert {agent: g["responses"] for agent, g in groups.items()} == {
        "alice": 4,
        "bob": 2,
        "carol": 1,
    }
    assert groups["alice"]["score"] == 75.0  # 3 of 4 gave 4-5
    assert groups["alice"]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2}
    assert groups["bob"]["score"] == 0.0
    assert groups["carol"]["score"] == 100.0
    assert score_of(server, tp["slug"])["responses"] == 7


def test_a_conversations_rating_is_listed_by_subject(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv_8812", agent="alice")
    submit(server, token, 2)
    submit(server, token, 4, comment="better on reflection")
    submit(server, token_for(server, tp["slug"], "conv_other"), 5)
    with server.reader() as client:
        body = client.get(
            f"/api/v1/touchpoints/{tp['slug']}/responses", params={"subject": "conv_8812"}
        )
    assert body.status_code == 200, body.text
    listed = body.json()["responses"]
    assert [(r["subject"], r["score"], r["comment"]) for r in listed] == [
        ("conv_8812", 4, "better on reflection")
    ]
    assert listed[0]["context"] == {"agent": "alice"}
