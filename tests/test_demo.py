"""The page at `/`: demo touchpoints on a fresh install, a pointer otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from conftest import LiveServer
from scorelet.cli import main
from test_serve import serving


def test_first_start_shows_three_live_demo_widgets(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    with serving(data) as (_, url):
        page = httpx.get(url + "/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "'sha256-" in policy
        assert "unsafe-inline" not in policy
        tokens = re.findall(r'<script src="/s/(e\.[^"]+)\.js" async></script>', page.text)
        assert len(tokens) == 3
        assert page.text.count(f"&lt;script src=&quot;{url}/s/") == 3  # the tags to copy
        assert page.text.count("No ratings yet") == 3
        nines = [
            httpx.post(url + "/api/v1/responses", json={"token": t, "score": 9}) for t in tokens
        ]
        # Only the NPS demo (0-10) takes a 9; stars and smileys (1-5) refuse it, naming score.
        assert sorted(r.status_code for r in nines) == [201, 422, 422]
        assert {r.json()["field"] for r in nines if r.status_code == 422} == {"score"}
        stars = [t for t in tokens if httpx.get(f"{url}/s/{t}.js").text.count("stars")]
        assert stars
        assert (
            httpx.post(url + "/api/v1/responses", json={"token": stars[0], "score": 5}).status_code
            == 201
        )
        home = httpx.get(url + "/").text
        assert "CSAT 100.0% from 1 rating " in home
        assert home.count("No ratings yet") == 1  # NPS took its 9, stars their 5: smileys left


def test_demos_are_made_once_and_stay_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data):
        pass
    assert main(["touchpoint", "remove", "demo-stars", "--yes", "--data", str(data)]) == 0
    with serving(data) as (_, url):
        text = httpx.get(url + "/").text
    assert "<code>demo-smileys</code></h2>" in text
    assert "<code>demo-stars</code></h2>" not in text


def test_without_demos_the_page_points_to_the_api(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert "<script" not in page.text


def test_the_demo_scores_and_the_icon_are_served(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    with serving(data) as (_, url):
        assert main(["touchpoint", "add", "private", "--metric", "csat", "--data", str(data)]) == 0
        lines = httpx.get(url + "/demo/scores").json()
        icon = httpx.get(url + "/favicon.ico")
    assert set(lines) == {"demo-stars", "demo-smileys", "demo-nps"}, "only the demos are public"
    assert lines["demo-nps"] == "No ratings yet: try it."
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")
    assert icon.text.startswith("<svg")
