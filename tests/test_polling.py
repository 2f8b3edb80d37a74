"""Score endpoints built for polling: ETags, series, breakdowns, listings, SSE, metrics."""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backends import Given
from conftest import LiveServer
from scorelet.tokens import Signer

ON_EVERY_BACKEND = True


def post(server: LiveServer, token: str, score: int, **extra: Any) -> dict[str, Any]:
    with server.client() as client:
        response = client.post("/api/v1/responses", json={"token": token, "score": score, **extra})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def get(server: LiveServer, url: str, **kwargs: Any) -> httpx.Response:
    with server.reader() as client:
        return client.get(url, **kwargs)


def insert_raw(
    server: LiveServer, slug: str, rows: list[tuple[float, int, dict[str, str]]]
) -> None:
    """Ratings at chosen instants, loaded through the storage interface."""
    server.load(slug, [Given(at, score, context) for at, score, context in rows])


# -- ETags ------------------------------------------------------------------------------------


def test_score_etag_changes_exactly_when_the_numbers_do(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    url = f"/api/v1/touchpoints/{tp['slug']}/score"
    first = get(server, url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private, max-age=")
    assert get(server, url, headers={"if-none-match": etag}).status_code == 304
    created = post(server, tp["embed_token"], 4)
    changed = get(server, url, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.json()["responses"] == 1
    etag = changed.headers["etag"]
    with server.client() as client:  # a comment changes no number
        client.patch(
            f"/api/v1/responses/{created['id']}", json={"token": tp["embed_token"], "comment": "ok"}
        )
    post(server, tp["embed_token"], 4, id=created["id"])  # same score again: nothing new
    assert get(server, url, headers={"if-none-match": etag}).status_code == 304
    with server.client() as client:
        client.post("/api/v1/impressions", json={"token": tp["embed_token"]})
    assert get(server, url, headers={"if-none-match": etag}).status_code == 200  # impressions
    windowed = f"{url}?since=2020-01-01"
    assert get(server, windowed).headers["etag"] != get(server, url).headers["etag"]


def test_304_still_needs_a_valid_key(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    url = f"/api/v1/touchpoints/{tp['slug']}/score"
    etag = get(server, url).headers["etag"]
    with server.client() as anonymous:
        assert anonymous.get(url, headers={"if-none-match": etag}).status_code == 401


# -- series -------------------------------------------------------------------------------


def test_series_buckets_follow_the_time_zone_across_dst(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    berlin = ZoneInfo("Europe/Berlin")
    # Around the spring-forward (2026-03-29) and fall-back (2026-10-25) nights.
    moments = [
        datetime(2026, 3, 28, 22, 59, tzinfo=UTC),
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # local midnight, 29 March
        datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # 23:59 local: a 23-hour day
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # local midnight, 30 March
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # local midnight, 25 October
        datetime(2026, 10, 25, 22, 59, tzinfo=UTC),  # 23:59 local: a 25-hour day
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # local midnight, 26 October
    ]
    rows = [(m.timestamp(), (i * 3) % 11, {}) for i, m in enumerate(moments)]
    insert_raw(server, tp["slug"], rows)
    for since, until in [
        ("2026-03-27T00:00:00+01:00", "2026-04-01T00:00:00+02:00"),
        ("2026-10-23T00:00:00+02:00", "2026-10-28T00:00:00+01:00"),
    ]:
        body = get(
            server,
            f"/api/v1/touchpoints/{tp['slug']}/series",
            params={"interval": "day", "tz": "Europe/Berlin", "since": since, "until": until},
        ).json()
        assert body["tz"] == "Europe/Berlin"
        for bucket in body["buckets"]:
            start = datetime.fromisoformat(bucket["start"]).timestamp()
            end = datetime.fromisoformat(bucket["end"]).timestamp()
            local = datetime.fromtimestamp(start, berlin)
            assert (local.hour, local.minute) == (0, 0)
            expected = [s for t, s, _ in rows if start <= t < end]
            assert bucket["responses"] == len(expected), bucket
            assert sum(v for v in bucket["distribution"].values()) == len(expected)
        lengths = {
            (e - s) / 3600
            for s, e in (
                (
                    datetime.fromisoformat(b["start"]).timestamp(),
                    datetime.fromisoformat(b["end"]).timestamp(),
                )
                for b in body["buckets"]
            )
        }
        assert lengths in ({23.0, 24.0}, {24.0, 25.0})


def test_series_includes_empty_buckets_as_null(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    insert_raw(server, tp["slug"], [(datetime(2026, 5, 4, 12, tzinfo=UTC).timestamp(), 5, {})])
    body = get(
        server,
        f"/api/v1/touchpoints/{tp['slug']}/series",
        params={"interval": "week", "since": "2026-04-27", "until": "2026-05-25"},
    ).json()
    assert [b["start"][:10] for b in body["buckets"]] == [
        "2026-04-27",
        "2026-05-04",
        "2026-05-11",
        "2026-05-18",
    ]
    assert [b["responses"] for b in body["buckets"]] == [0, 1, 0, 0]
    assert [b["score"] for b in body["buckets"]] == [None, 100.0, None, None]


def test_monthly_series_and_bad_series_queries(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    url = f"/api/v1/touchpoints/{tp['slug']}/series"
    body = get(
        server, url, params={"interval": "month", "since": "2026-01-15", "until": "2026-04-01"}
    ).json()
    assert [b["start"][:10] for b in body["buckets"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    for params, field in [
        ({"interval": "hour"}, "interval"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"interval": "day", "since": "1990-01-01"}, "since"),
    ]:
        response = get(server, url, params=params)
        assert response.status_code == 400
        assert response.json()["field"] == field


# -- breakdown and all scores -------------------------------------------------------------


def test_breakdown_by_agent_matches_a_recount(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat")
    agents = {"alice": [5, 5, 4, 2], "bob": [1, 2], "carol": [5]}
    for agent, scores in agents.items():
        for score in scores:
            post(server, tp["embed_token"], score, context={"agent": agent})
    post(server, tp["embed_token"], 3)  # no agent: not in any group
    body = get(server, f"/api/v1/touchpoints/{tp['slug']}/breakdown", params={"by": "agent"}).json()
    assert [g["value"] for g in body["groups"]] == ["alice", "bob", "carol"]
    alice = body["groups"][0]
    assert (alice["responses"], alice["satisfied"], alice["score"]) == (4, 3, 75.0)
    assert alice["interval"]["low"] < 75.0 < alice["interval"]["high"]
    assert body["groups"][1]["score"] == 0.0
    missing = get(server, f"/api/v1/touchpoints/{tp['slug']}/breakdown")
    assert (missing.status_code, missing.json()["field"]) == (400, "by")


def test_all_scores_in_one_call(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    post(server, tp["embed_token"], 10)
    response = get(server, "/api/v1/scores")
    body = response.json()
    mine = [s for s in body["touchpoints"] if s["touchpoint"] == tp["slug"]]
    assert len(mine) == 1
    assert mine[0]["score"] == 100.0
    assert (
        get(
            server, "/api/v1/scores", headers={"if-none-match": response.headers["etag"]}
        ).status_code
        == 304
    )


def test_all_scores_take_the_same_window_as_each_score(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat")
    insert_raw(
        server,
        tp["slug"],
        [
            (1_767_225_600.0, 5, {"agent": "ann"}),  # 2026-01-01
            (1_769_904_000.0, 1, {"agent": "ann"}),  # 2026-02-01
            (1_769_904_000.0, 4, {"agent": "bob"}),
        ],
    )
    for params in (
        {"since": "2026-01-01", "until": "2026-02-01"},
        {"until": "2026-02-01T12:00:00Z", "agent": "ann"},
        {"since": "2026-01-15"},
    ):
        everything = get(server, "/api/v1/scores", params=params)
        assert everything.status_code == 200, everything.text
        mine = [s for s in everything.json()["touchpoints"] if s["touchpoint"] == tp["slug"]]
        one = get(server, f"/api/v1/touchpoints/{tp['slug']}/score", params=params).json()
        assert mine == [{k: v for k, v in one.items() if k not in ("since", "until", "filters")}]
        assert everything.json()["until"] == one["until"]


# -- listing and export -----------------------------------------------------------------------


def test_responses_page_by_cursor_newest_first(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    now = time.time()
    insert_raw(
        server,
        tp["slug"],
        [(now - i, 1 + i % 5, {"plan": "pro" if i % 2 else "free"}) for i in range(120)],
    )
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = get(server, f"/api/v1/touchpoints/{tp['slug']}/responses", params=params).json()
        seen += page["responses"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 120
    assert len({r["id"] for r in seen}) == 120
    times = [r["created_at"] for r in seen]
    assert times == sorted(times, reverse=True)
    filtered = get(
        server,
        f"/api/v1/touchpoints/{tp['slug']}/responses",
        params={"min_score": 4, "plan": "pro", "limit": 1000},
    ).json()["responses"]
    assert filtered
    assert all(r["score"] >= 4 and r["context"]["plan"] == "pro" for r in filtered)
    bad = get(server, f"/api/v1/touchpoints/{tp['slug']}/responses", params={"cursor": "garbage"})
    assert (bad.status_code, bad.json()["field"]) == (400, "cursor")


def test_a_conversations_own_rating_by_subject(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    token = Signer(server.settings.secrets).mint_subject(
        tp["slug"], "conv_8812", {"agent": "alice"}, 4_000_000_000
    )
    post(server, token, 2, comment="slow")
    post(server, token, 4)
    body = get(
        server, f"/api/v1/touchpoints/{tp['slug']}/responses", params={"subject": "conv_8812"}
    ).json()
    assert [(r["score"], r["comment"], r["subject"]) for r in body["responses"]] == [
        (4, "slow", "conv_8812")
    ]
    assert body["responses"][0]["created_at"] <= body["responses"][0]["updated_at"]


def test_csv_and_ndjson_export_every_row(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    post(
        server, tp["embed_token"], 5, comment='Comma, "quote"\nand newline', context={"plan": "pro"}
    )
    post(server, tp["embed_token"], 1)
    url = f"/api/v1/touchpoints/{tp['slug']}/responses"
    csv_response = get(server, url, params={"format": "csv"})
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert [row["score"] for row in rows] == ["1", "5"]
    assert rows[1]["comment"] == 'Comma, "quote"\nand newline'
    assert rows[1]["plan"] == "pro"  # a column per context key
    lines = get(server, url, params={"format": "ndjson"}).text.splitlines()
    assert [json.loads(line)["score"] for line in lines] == [1, 5]


# -- server-sent events -----------------------------------------------------------------------


def follow(
    server: LiveServer, params: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[queue.Queue[dict[str, Any]], threading.Event]:
    """Read the stream in a thread; parsed events arrive on the queue."""
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        event: dict[str, Any] = {}
        try:
            with (
                server.reader() as client,
                client.stream(
                    "GET", "/api/v1/stream", params=params, headers=headers or {}
                ) as response,
            ):
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("id: "):
                        event["id"] = line[4:]
                    elif line.startswith("data: "):
                        event["data"] = json.loads(line[6:])
                    elif line == "" and "data" in event:
                        events.put(event)
                        event = {}
        except httpx.HTTPError:  # a quiet stream outlives the test: let it go
            return

    threading.Thread(target=run, daemon=True).start()
    return events, stop


def test_stream_pushes_new_scores_and_resumes_with_last_event_id(server: LiveServer) -> None:
    tp, other = server.add_touchpoint(), server.add_touchpoint()
    events, stop = follow(server, {"touchpoints": tp["slug"]})
    first = events.get(timeout=10)
    assert first["data"]["touchpoint"] == tp["slug"]
    assert first["data"]["responses"] == 0
    post(server, tp["embed_token"], 5)
    pushed = events.get(timeout=10)
    assert pushed["data"]["responses"] == 1
    assert int(pushed["id"]) > int(first["id"])
    stop.set()
    post(server, other["embed_token"], 1)  # not followed
    post(server, tp["embed_token"], 1)  # missed while disconnected
    resumed, stop_again = follow(
        server, {"touchpoints": f"{tp['slug']},{other['slug']}"}, {"last-event-id": pushed["id"]}
    )
    got = {resumed.get(timeout=10)["data"]["touchpoint"] for _ in range(2)}
    assert got == {tp["slug"], other["slug"]}
    stop_again.set()
    quiet, stop_quiet = follow(server, {"touchpoints": tp["slug"]}, {"last-event-id": str(2**62)})
    with pytest.raises(queue.Empty):
        quiet.get(timeout=1.5)
    stop_quiet.set()


def test_stream_refuses_unknown_touchpoints_and_missing_keys(server: LiveServer) -> None:
    assert get(server, "/api/v1/stream", params={"touchpoints": "nope"}).status_code == 400
    with server.client() as anonymous:
        assert anonymous.get("/api/v1/stream").status_code == 401


# -- Prometheus -------------------------------------------------------------------------------


def test_metrics_parse_and_match_the_score(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat")
    for score in (5, 4):
        post(server, tp["embed_token"], score)
    changed_mind = post(server, tp["embed_token"], 2)
    post(server, tp["embed_token"], 1, id=changed_mind["id"])
    response = get(server, "/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    score = [s for s in families["scorelet_score"].samples if s.labels["touchpoint"] == tp["slug"]]
    assert score[0].value == pytest.approx(66.7)
    assert score[0].labels["metric"] == "csat"
    totals = [
        s
        for s in families["scorelet_responses"].samples
        if s.labels.get("touchpoint") == tp["slug"]
    ]
    assert totals[0].value == 3

    def per_score(name: str) -> dict[str, float]:
        return {
            sample.labels["score"]: sample.value
            for sample in families[name].samples
            if sample.labels.get("touchpoint") == tp["slug"]
            and "score" in sample.labels
            and not sample.name.endswith("_created")
        }

    assert per_score("scorelet_score_responses") == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}
    assert per_score("scorelet_ratings") == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 1}

    assert "scorelet_http_requests" in families
    assert "scorelet_http_request_duration_seconds" in families
    assert "scorelet_writer_queue_depth" in families
    assert any(
        s.name == "scorelet_writer_batch_size_count" and s.value > 0
        for s in families["scorelet_writer_batch_size"].samples
    )
    with server.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401


def test_metrics_token_opens_metrics_only(tmp_path: Any) -> None:
    from conftest import run_server

    servers = run_server(tmp_path / "data", metrics_token="scrape-me-please-0123")
    live = next(servers)
    try:
        with live.client("scrape-me-please-0123") as scraper:
            assert scraper.get("/metrics").status_code == 200
            assert scraper.get("/api/v1/touchpoints").status_code == 401
    finally:
        next(servers, None)


def test_touchpoint_list_and_show_carry_etags(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    for url in ("/api/v1/touchpoints", f"/api/v1/touchpoints/{tp['slug']}"):
        etag = get(server, url).headers["etag"]
        assert get(server, url, headers={"if-none-match": etag}).status_code == 304
    etag = get(server, "/api/v1/touchpoints").headers["etag"]
    with server.admin() as client:
        client.patch(f"/api/v1/touchpoints/{tp['slug']}", json={"question": "New?"})
    assert get(server, "/api/v1/touchpoints", headers={"if-none-match": etag}).status_code == 200


def test_a_series_from_a_future_since_is_empty(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    response = get(
        server, f"/api/v1/touchpoints/{tp['slug']}/series", params={"since": "9000-01-01"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["buckets"] == []


def test_a_window_that_holds_no_instant_counts_nothing_everywhere(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    post(server, tp["embed_token"], 5, context={"agent": "alice"})
    now = time.time()
    slug = tp["slug"]
    for since, until in ((now - 60, now - 60), (now + 60, now - 3600), (now - 1, now - 86400 * 3)):
        window = {"since": f"{since:.3f}", "until": f"{until:.3f}"}
        score = get(server, f"/api/v1/touchpoints/{slug}/score", params=window)
        assert (score.status_code, score.json()["responses"]) == (200, 0), score.text
        series = get(server, f"/api/v1/touchpoints/{slug}/series", params=window).json()
        assert sum(bucket["responses"] for bucket in series["buckets"]) == 0
        by = get(server, f"/api/v1/touchpoints/{slug}/breakdown", params={**window, "by": "agent"})
        assert by.json()["groups"] == []
        listed = get(server, f"/api/v1/touchpoints/{slug}/responses", params=window)
        assert listed.json()["responses"] == []
        scores = get(server, "/api/v1/scores", params=window).json()["touchpoints"]
        assert next(t for t in scores if t["touchpoint"] == slug)["responses"] == 0
    assert get(server, f"/api/v1/touchpoints/{slug}/score").json()["responses"] == 1


def test_tag_combines_with_has_comment(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    tagged_commented = post(server, tp["embed_token"], 5, comment="the invoice was wrong")
    tagged_silent = post(server, tp["embed_token"], 2)
    post(server, tp["embed_token"], 4, comment="fine")
    with server.admin() as admin:
        for rating in (tagged_commented, tagged_silent):
            added = admin.post(f"/api/v1/responses/{rating['id']}/tags", json={"tag": "Billing"})
            assert added.status_code == 201, added.text
    url = f"/api/v1/touchpoints/{tp['slug']}/score"
    for has_comment, expected in (("true", {"5": 1}), ("false", {"2": 1})):
        body = get(server, url, params={"tag": "Billing", "has_comment": has_comment}).json()
        assert {k: v for k, v in body["distribution"].items() if v} == expected, body


def test_a_series_of_more_than_1000_buckets_is_refused_naming_since(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    url = f"/api/v1/touchpoints/{tp['slug']}/series"
    window = {"since": "2020-01-01", "until": "2022-12-31"}
    refused = get(server, url, params={**window, "interval": "day"})
    assert refused.status_code == 400
    assert (refused.json()["code"], refused.json()["field"]) == ("bad_query", "since")
    assert "1000 buckets" in refused.json()["detail"]
    weekly = get(server, url, params={**window, "interval": "week"})  # the same years, 157 weeks
    assert (weekly.status_code, len(weekly.json()["buckets"])) == (200, 157)
