"""Tags over HTTP: manual tags, filters on every read, breakdown by tag, per-tag series."""

from __future__ import annotations

import csv
import io
import json
import time

from conftest import LiveServer
from scorelet.timeutil import DAY

ON_EVERY_BACKEND = True


def test_tags_filter_every_read_and_show_on_every_listing(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    slug, token = tp["slug"], tp["embed_token"]
    rule = {
        "name": f"bug-{slug}",
        "touchpoints": [slug],
        "comment_matches": "bug|broken",
        "add_tags": ["Bug report"],
    }
    with server.admin() as admin:
        assert admin.post("/api/v1/rules", json=rule).status_code == 201
    ids = []
    with server.client() as client:
        for score, comment in [(1, "broken button"), (2, "a bug"), (5, None), (4, "fine")]:
            body = {"token": token, "score": score, "comment": comment}
            created = client.post("/api/v1/responses", json=body).json()
            ids.append(created["id"])
    assert [t["tag"] for t in created["tags"]] == []
    with server.admin() as admin:
        tagged = admin.post(f"/api/v1/responses/{ids[2]}/tags", json={"tag": "Bug report"})
        assert tagged.status_code == 201
        assert tagged.json()["tags"] == [
            {"tag": "Bug report", "source": "manual", "rule": None, "matched": []}
        ]
        assert (
            admin.post(f"/api/v1/responses/{ids[3]}/tags", json={"tag": "Praise"}).status_code
            == 201
        )
        gone = admin.delete(f"/api/v1/responses/{ids[3]}/tags", params={"tag": "Praise"})
        assert gone.json()["tags"] == []
        missing = admin.delete(f"/api/v1/responses/{ids[3]}/tags", params={"tag": "Praise"})
        assert (missing.status_code, missing.json()["code"]) == (404, "tag_not_found")
        bad = admin.post(f"/api/v1/responses/{ids[3]}/tags", json={"tag": "a,b"})
        assert (bad.status_code, bad.json()["field"]) == (422, "tag")
        for body, field, code in [
            ({}, "tag", "missing_field"),
            ({"tag": 7}, "tag", "wrong_type"),
            ({"tag": "Praise", "tags": []}, "tags", "unknown_field"),
        ]:
            refused = admin.post(f"/api/v1/responses/{ids[3]}/tags", json=body).json()
            assert (refused["field"], refused["code"]) == (field, code), body
        backfill = f"/api/v1/rules/bug-{slug}/backfill"
        for body, field, code in [
            ({"since": 5}, "since", "wrong_type"),
            ({"since": "yesterday"}, "since", "invalid_value"),
            ({"until": "2026-01-01"}, "until", "unknown_field"),
        ]:
            refused = admin.post(backfill, json=body).json()
            assert (refused["field"], refused["code"]) == (field, code), body
        assert admin.post(backfill, json={"since": "2020-01-01"}).json()["seen"] == 4
    with server.reader() as reader:
        base = f"/api/v1/touchpoints/{slug}"
        score = reader.get(f"{base}/score", params={"tag": "Bug report"}).json()
        assert (score["responses"], score["distribution"]["1"], score["tag"]) == (
            3,
            1,
            "Bug report",
        )
        assert score["response_rate_reason"] is not None
        listed = reader.get(f"{base}/responses", params={"tag": "Bug report"}).json()["responses"]
        assert sorted(r["id"] for r in listed) == sorted(ids[:3])
        matched = {r["id"]: r["tags"][0]["matched"] for r in listed}
        assert matched[ids[0]] == ["broken"]
        groups = reader.get(f"{base}/breakdown", params={"by": "tag"}).json()["groups"]
        assert [(g["value"], g["responses"]) for g in groups] == [("Bug report", 3)]
        now = time.time()
        series = reader.get(
            f"{base}/series",
            params={"tags": "true", "since": str(int(now - DAY)), "until": str(int(now + 60))},
        ).json()
        assert sum(b["tags"].get("Bug report", 0) for b in series["buckets"]) == 3
        tagged_series = reader.get(f"{base}/series", params={"tag": "Bug report"}).json()
        assert sum(b["responses"] for b in tagged_series["buckets"]) == 3
        rows = list(csv.DictReader(io.StringIO(reader.get(f"{base}/responses?format=csv").text)))
        assert sorted(r["tags"] for r in rows) == ["", "Bug report", "Bug report", "Bug report"]
        lines = reader.get(f"{base}/responses?format=ndjson&tag=Bug+report").text.splitlines()
        assert len(lines) == 3
        assert all(json.loads(line)["tags"] for line in lines)
        refused = reader.get(f"{base}/score", params={"tag": ""})
        assert (refused.status_code, refused.json()["field"]) == (400, "tag")
