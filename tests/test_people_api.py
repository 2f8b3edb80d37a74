"""Identified people over real HTTP: identity tokens, when to ask, history, erasure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import SECRET, Clock, LiveServer, run_server
from scorelet.mint import mint_identity_token
from scorelet.tokens import Signer
from test_openapi import check, spec

ON_EVERY_BACKEND = True
DAY = 86400
SIGNER = Signer([SECRET])


def identity(person: str = "ann", ttl: str = "1h", now: float | None = None, **traits: str) -> str:
    return mint_identity_token(SIGNER, person, traits, ttl, now=now).token


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(tmp_path: Path, clock: Clock, backend: str) -> Iterator[LiveServer]:
    yield from run_server(tmp_path / "data", clock=clock, backend=backend)


def post(server: LiveServer, path: str, **body: Any) -> Any:
    with server.client() as client:
        return client.post(path, json=body)


def eligibility(server: LiveServer, token: str, **params: str) -> Any:
    with server.client() as client:
        return client.get("/api/v1/eligibility", params={"token": token, **params})


def problem(response: Any) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["code"], body.get("field")


# -- minting ---------------------------------------------------------------------------------


def test_a_mint_key_mints_an_identity_token_over_http(server: LiveServer) -> None:
    body = {"person": "user_1", "traits": {"plan": "pro", "signed_up_at": "2026-01-31"}}
    with server.client(server.mint_key) as client:
        minted = client.post("/api/v1/identities", json={**body, "ttl": "1h"})
        bad_trait = client.post(
            "/api/v1/identities", json={"person": "u", "traits": {"signed_up_at": "soon"}}
        )
        no_person = client.post("/api/v1/identities", json={"traits": {}})
    with server.reader() as reader:
        refused = reader.post("/api/v1/identities", json=body)
    assert minted.status_code == 201, minted.text
    answer = minted.json()
    assert answer["identity"].startswith("i.")
    assert (answer["person"], answer["traits"]) == ("user_1", body["traits"])
    assert minted.headers["cache-control"] == "no-store"
    assert problem(bad_trait) == (422, "invalid_value", "traits.signed_up_at")
    assert problem(no_person) == (422, "missing_field", "person")
    assert problem(refused) == (403, "insufficient_scope", None)


# -- refusals: forged, expired, cross-purpose -------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code", "says"),
    [
        ("forged", 403, "bad_token", "signature is invalid"),
        ("expired", 403, "token_expired", "mint a fresh one"),
        ("embed", 403, "bad_token", "this is an embed token"),
        ("subject", 403, "bad_token", "this is a subject token"),
        ("number", 422, "wrong_type", "identity must be a string"),
    ],
)
def test_bad_identity_tokens_are_refused_precisely_and_store_nothing(
    server: LiveServer, kind: str, status: int, code: str, says: str
) -> None:
    tp = server.add_touchpoint()
    good = identity()
    bad: Any = {
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "expired": identity(now=time.time() - 7200),
        "embed": tp["embed_token"],
        "subject": SIGNER.mint_subject(tp["slug"], "c1", {}, int(time.time()) + 600),
        "number": 7,
    }[kind]
    for path, body in (
        ("/api/v1/responses", {"score": 4}),
        ("/api/v1/impressions", {}),
        ("/api/v1/dismissals", {}),
    ):
        refused = post(server, path, token=tp["embed_token"], identity=bad, **body)
        assert problem(refused) == (status, code, "identity"), path
        assert says in refused.json()["detail"]
    if kind != "number":
        answer = eligibility(server, tp["embed_token"], identity=bad)
        assert problem(answer) == (status, code, "identity")
    score = server.score(tp["slug"])
    assert (score["responses"], score["impressions"]) == (0, 0)


def test_an_identity_token_is_not_a_rating_token(server: LiveServer) -> None:
    refused = post(server, "/api/v1/responses", token=identity(), score=4)
    assert problem(refused) == (403, "bad_token", "token")
    assert "identity token" in refused.json()["detail"]


# -- recording with an identity -----------------------------------------------------------------


def test_traits_join_the_context_and_win_over_the_pages(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    token = identity("ann", plan="pro")
    given = post(
        server,
        "/api/v1/responses",
        token=tp["embed_token"],
        score=5,
        identity=token,
        context={"plan": "free", "page": "/pricing"},
    )
    assert given.status_code == 201, given.text
    assert given.json()["person"] == "ann"
    assert given.json()["context"] == {"plan": "pro", "page": "/pricing"}


def test_a_subject_tokens_context_wins_over_traits(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    subject = SIGNER.mint_subject(tp["slug"], "c1", {"team": "billing"}, int(time.time()) + 600)
    token = identity("ann", team="sales", plan="pro")
    given = post(server, "/api/v1/responses", token=subject, score=4, identity=token)
    assert given.status_code == 201, given.text
    assert given.json()["context"] == {"team": "billing", "plan": "pro"}


def test_require_identity_refuses_anonymous_ratings_and_displays_with_403(
    server: LiveServer,
) -> None:
    tp = server.add_touchpoint(require_identity=True)
    rating = post(server, "/api/v1/responses", token=tp["embed_token"], score=4)
    shown = post(server, "/api/v1/impressions", token=tp["embed_token"])
    assert problem(rating) == (403, "identity_required", "identity")
    assert problem(shown) == (403, "identity_required", "identity")
    assert server.score(tp["slug"])["responses"] == 0
    ok = post(server, "/api/v1/responses", token=tp["embed_token"], score=4, identity=identity())
    assert ok.status_code == 201
    answer = eligibility(server, tp["embed_token"]).json()
    assert (answer["show"], answer["reason"]) == (False, "identity_required")


# -- when to ask, over HTTP ---------------------------------------------------------------------


def test_recontact_days_hold_a_person_back_on_every_device(live: LiveServer, clock: Clock) -> None:
    tp = live.add_touchpoint(metric="nps", recontact_days=90)
    ann = identity("ann")
    assert eligibility(live, tp["embed_token"], identity=ann).json()["reason"] == "eligible"
    given = post(live, "/api/v1/responses", token=tp["embed_token"], score=9, identity=ann)
    assert given.status_code == 201
    clock.advance(12 * DAY)
    answer = eligibility(live, tp["embed_token"], identity=ann)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["show"] is False
    assert (body["reason"], body["detail"]) == (
        "answered_recently",
        "answered 12 days ago; recontact after 90 days",
    )
    assert body["next_eligible_at"] is not None
    other = eligibility(live, tp["embed_token"], identity=identity("bob")).json()
    assert other["show"] is True, "only that person is held back"
    clock.advance(79 * DAY)
    assert eligibility(live, tp["embed_token"], identity=ann).json()["show"] is True


def test_a_dismissal_holds_back_for_redisplay_days_and_is_no_answer(
    live: LiveServer, clock: Clock
) -> None:
    tp = live.add_touchpoint(redisplay_days=7, recontact_days=90)
    ann = identity("ann")
    assert (
        post(live, "/api/v1/impressions", token=tp["embed_token"], identity=ann).status_code == 204
    )
    assert (
        post(live, "/api/v1/dismissals", token=tp["embed_token"], identity=ann).status_code == 204
    )
    assert post(live, "/api/v1/dismissals", token=tp["embed_token"]).status_code == 204
    body = eligibility(live, tp["embed_token"], identity=ann).json()
    assert (body["show"], body["reason"]) == (False, "dismissed_recently")
    score = live.score(tp["slug"])
    assert (score["responses"], score["impressions"], score["score"]) == (0, 1, None)
    clock.advance(7 * DAY + 1)
    assert eligibility(live, tp["embed_token"], identity=ann).json()["show"] is True


def test_the_global_throttle_spans_touchpoints_unless_one_ignores_it(
    live: LiveServer, clock: Clock
) -> None:
    checkout = live.add_touchpoint()
    nps = live.add_touchpoint(metric="nps")
    support = live.add_touchpoint(ignore_global_throttle=True)
    with live.admin() as admin:
        changed = admin.patch("/api/v1/settings", json={"recontact-days": 30})
        bad = admin.patch("/api/v1/settings", json={"recontact-days": -1})
        unknown = admin.patch("/api/v1/settings", json={"recontact_days": 3})
    assert changed.json() == {"recontact-days": 30}
    assert problem(bad) == (422, "out_of_range", "recontact-days")
    assert problem(unknown) == (422, "unknown_field", "recontact_days")
    ann = identity("ann")
    post(live, "/api/v1/impressions", token=checkout["embed_token"], identity=ann)
    clock.advance(5 * DAY)
    body = eligibility(live, nps["embed_token"], identity=ann).json()
    assert (body["show"], body["reason"]) == (False, "global_throttle")
    assert body["detail"].startswith(f"asked at {checkout['slug']} 5 days ago")
    assert eligibility(live, support["embed_token"], identity=ann).json()["show"] is True
    clock.advance(25 * DAY)
    assert eligibility(live, nps["embed_token"], identity=ann).json()["show"] is True


def test_an_event_trigger_waits_for_its_event(server: LiveServer) -> None:
    tp = server.add_touchpoint(trigger="event:ticket_closed")
    ann = identity()
    waiting = eligibility(server, tp["embed_token"], identity=ann).json()
    assert (waiting["show"], waiting["reason"]) == (False, "waiting_for_event")
    fired = eligibility(server, tp["embed_token"], identity=ann, event="ticket_closed").json()
    assert fired["show"] is True
    other = eligibility(server, tp["embed_token"], event="page_view").json()
    assert other["reason"] == "other_event"
    bad = eligibility(server, tp["embed_token"], event="no spaces")
    assert problem(bad) == (400, "bad_query", "event")


def test_eligibility_refuses_bad_queries_precisely(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        missing = client.get("/api/v1/eligibility")
        unknown = client.get("/api/v1/eligibility", params={"token": tp["embed_token"], "x": "1"})
        twice = client.get(f"/api/v1/eligibility?token={tp['embed_token']}&identity=a&identity=b")
        forged = client.get("/api/v1/eligibility", params={"token": "e.nonsense"})
    assert problem(missing) == (400, "bad_query", "token")
    assert problem(unknown) == (400, "bad_query", "x")
    assert problem(twice) == (400, "bad_query", "identity")
    assert problem(forged) == (403, "bad_token", "token")


# -- history, groups, erasure --------------------------------------------------------------------


def test_a_persons_history_lists_ratings_and_displays_across_touchpoints(
    server: LiveServer,
) -> None:
    csat = server.add_touchpoint()
    nps = server.add_touchpoint(metric="nps")
    person = f"p-{csat['slug']}"
    token = identity(person, plan="pro")
    post(server, "/api/v1/impressions", token=csat["embed_token"], identity=token)
    post(server, "/api/v1/responses", token=csat["embed_token"], score=2, identity=token)
    post(server, "/api/v1/dismissals", token=nps["embed_token"], identity=token)
    with server.reader() as reader:
        found = reader.get(f"/api/v1/people/{person}")
        missing = reader.get("/api/v1/people/nobody-at-all")
    with server.client() as anonymous:
        locked = anonymous.get(f"/api/v1/people/{person}")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["traits"] == {"plan": "pro"}
    assert [(r["touchpoint"], r["score"], r["person"]) for r in body["responses"]] == [
        (csat["slug"], 2, person)
    ]
    assert [(d["touchpoint"], d["kind"]) for d in body["displays"]] == [
        (nps["slug"], "dismissed"),
        (csat["slug"], "shown"),
    ]
    assert problem(missing) == (404, "person_not_found", "id")
    assert problem(locked)[:2] == (401, "missing_api_key")


def test_responses_and_exports_by_group(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    for n, score in enumerate([10, 9, 8, 3, 0]):
        post(
            server,
            "/api/v1/responses",
            token=tp["embed_token"],
            score=score,
            identity=identity(f"u{n}"),
        )
    url = f"/api/v1/touchpoints/{tp['slug']}/responses"
    with server.reader() as reader:
        promoters = reader.get(url, params={"group": "promoter"}).json()["responses"]
        detractors = reader.get(url, params={"group": "detractor", "format": "csv"}).text
        narrowed = reader.get(url, params={"group": "promoter", "min_score": "10"}).json()
        wrong = reader.get(url, params={"group": "high"})
    assert sorted((r["score"], r["person"]) for r in promoters) == [(9, "u1"), (10, "u0")]
    lines = detractors.strip().splitlines()
    assert lines[0].startswith("id,touchpoint,score,comment,subject,person,")
    assert sorted(line.split(",")[5] for line in lines[1:]) == ["u3", "u4"]
    assert [r["score"] for r in narrowed["responses"]] == [10]
    assert problem(wrong) == (400, "bad_query", "group")
    assert "promoter" in wrong.json()["detail"]


def test_erasing_a_person_leaves_every_score_equal_to_a_recount_without_them(
    server: LiveServer,
) -> None:
    tp = server.add_touchpoint(metric="nps")
    plain = server.add_touchpoint(metric="nps")
    given = [("erin", 10), ("bob", 3), ("erin", 0), (None, 9), ("cy", 8), ("erin", 9), ("bob", 7)]
    for person, score in given:
        for target in (tp, plain) if person != "erin" else (tp,):
            token = identity(person, team="t1") if person else None
            post(server, "/api/v1/impressions", token=target["embed_token"], identity=token)
            post(
                server,
                "/api/v1/responses",
                token=target["embed_token"],
                score=score,
                identity=token,
                shown=True,
                context={"agent": "x"},
            )
    with server.admin() as admin:
        erased = admin.delete("/api/v1/people/erin")
        with server.reader() as reader:
            still = reader.get("/api/v1/people/erin")
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"person": "erin", "responses_removed": 3, "impressions_removed": 3}
    assert problem(still) == (404, "person_not_found", "id")

    def comparable(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k != "touchpoint"}

    for params in ({}, {"agent": "x"}, {"since": "2000-01-01"}, {"team": "t1"}):
        assert comparable(server.score(tp["slug"], **params)) == comparable(
            server.score(plain["slug"], **params)
        ), params
    with server.reader() as reader:
        by_team = [
            reader.get(f"/api/v1/touchpoints/{t['slug']}/breakdown", params={"by": "team"}).json()
            for t in (tp, plain)
        ]
    assert by_team[0]["groups"] == by_team[1]["groups"]
    assert all(r["person"] != "erin" for r in server.ratings(tp["slug"]))


def test_the_answers_match_their_published_schemas(server: LiveServer) -> None:
    document = spec(server)
    tp = server.add_touchpoint(metric="nps", recontact_days=9)
    with server.client(server.mint_key) as client:
        minted = client.post("/api/v1/identities", json={"person": "schema-1"}).json()
    check(document, "MintedIdentity", minted)
    ann = {"identity": minted["identity"]}
    given = post(server, "/api/v1/responses", token=tp["embed_token"], score=9, **ann)
    check(document, "Response", given.json())
    check(document, "Eligibility", eligibility(server, tp["embed_token"], **ann).json())
    with server.reader() as reader:
        check(document, "PersonHistory", reader.get("/api/v1/people/schema-1").json())
        check(document, "Settings", reader.get("/api/v1/settings").json())
    with server.admin() as admin:
        check(document, "Erased", admin.delete("/api/v1/people/schema-1").json())
