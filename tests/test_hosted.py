"""The hosted rating page over real HTTP: its branding and its follow-up questions."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveServer, run_server
from scorelet.brand import Brand
from scorelet.strings import table
from test_chat import post_page, token_for

ACME = {
    "brand_name": "Acme Support",
    "brand_logo": "https://cdn.acme.example/logo.svg",
    "brand_accent": "#c026d3",
}


def inline_style(html: str) -> str | None:
    found = re.findall(r"<style>(.*?)</style>", html)
    assert len(found) <= 1
    return found[0] if found else None


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.split(" ", 1) for part in policy.split("; "))


def test_a_branded_touchpoint_names_itself_in_the_page_and_its_title(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars", question="How did we do?", **ACME)
    token = token_for(server, tp["slug"], "conv-brand")
    with server.client() as client:
        page = client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "<title>How did we do? · Acme Support</title>" in page.text
    assert '<header class="brand"><img src="https://cdn.acme.example/logo.svg"' in page.text
    assert "<span>Acme Support</span>" in page.text
    style = inline_style(page.text)
    assert style is not None
    assert "--accent:#c026d3" in style
    assert "--scorelet-accent:#c026d3" in style  # the mounted widget takes it up too
    policy = csp(page)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy["style-src"] == f"'self' 'sha256-{digest}'"
    assert policy["img-src"] == "'self' data: https://cdn.acme.example"
    assert policy["script-src"] == "'self'"
    assert " style=" not in page.text


def test_the_thank_you_page_carries_the_brand_too(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars", **ACME)
    token = token_for(server, tp["slug"], "conv-brand-2")
    thanks = post_page(server, token, score="5")
    assert "· Acme Support</title>" in thanks.text
    assert inline_style(thanks.text)


def test_without_branding_the_page_has_no_inline_style_at_all(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], "conv-plain")
    with server.client() as client:
        page = client.get(f"/r/{token}")
    assert inline_style(page.text) is None
    assert '<header class="brand">' not in page.text
    assert csp(page)["style-src"] == "'self'"
    assert csp(page)["img-src"] == "'self' data:"


@pytest.fixture(scope="module")
def branded_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    brand = Brand("Acme", "https://acme.example/a.png", "#0f766e")
    yield from run_server(tmp_path_factory.mktemp("branded"), brand=brand)


def test_the_install_brand_fills_in_what_a_touchpoint_leaves_out(
    branded_install: LiveServer,
) -> None:
    plain = branded_install.add_touchpoint(scale="stars", question="Q?")
    own = branded_install.add_touchpoint(scale="stars", question="Q?", brand_name="Acme Travel")
    pages = {}
    for tp in (plain, own):
        token = token_for(branded_install, tp["slug"], "conv")
        with branded_install.client() as client:
            pages[tp["slug"]] = client.get(f"/r/{token}").text
    assert "<title>Q? · Acme</title>" in pages[plain["slug"]]
    assert "<title>Q? · Acme Travel</title>" in pages[own["slug"]]
    for text in pages.values():
        assert "--accent:#0f766e" in (inline_style(text) or "")
        assert 'src="https://acme.example/a.png"' in text
    with branded_install.client() as client:
        broken = client.get("/r/s.not-a-token")
    assert broken.status_code == 404
    assert "· Acme</title>" in broken.text


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"brand_accent": "red"}, "brand_accent"),
        ({"brand_accent": "#12345"}, "brand_accent"),
        ({"brand_accent": "#fff;}body{display:none"}, "brand_accent"),
        ({"brand_logo": "javascript:alert(1)"}, "brand_logo"),
        ({"brand_logo": "https://x.example/a.png' onerror='x"}, "brand_logo"),
        ({"brand_logo": "https://x.example/a b.png"}, "brand_logo"),
        ({"brand_logo": "https://*.example/a.png"}, "brand_logo"),  # img-src's wildcard
        ({"brand_logo": "https://me:pw@x.example/a.png"}, "brand_logo"),
        ({"brand_logo": "https://x.example:99999/a.png"}, "brand_logo"),
        ({"brand_name": "x" * 81}, "brand_name"),
        ({"comment_prompts": {"promoter": "Why?"}}, "comment_prompts.promoter"),
        ({"comment_prompts": "Why?"}, "comment_prompts"),
        ({"comment_prompts": {"low": 5}}, "comment_prompts.low"),
    ],
)
def test_bad_branding_and_prompts_are_refused_naming_the_field(
    server: LiveServer, fields: dict[str, Any], field: str
) -> None:
    with server.admin() as admin:
        answer = admin.post(
            "/api/v1/touchpoints", json={"slug": "bad-brand", "metric": "csat", **fields}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field
        assert admin.get("/api/v1/touchpoints/bad-brand").status_code == 404


def test_an_install_brand_that_cannot_be_used_stops_serve_with_one_line(tmp_path: Path) -> None:
    from test_datadir import assert_one_line, scorelet

    result = scorelet(tmp_path, "serve", "--port", "0", SCORELET_BRAND_ACCENT="blue")
    assert_one_line(result, "SCORELET_BRAND_ACCENT must be a colour like #1d4ed8")


# -- follow-up questions per group -----------------------------------------------------------


def prompt_on(page: httpx.Response) -> str:
    found = re.search(r'<label for="comment">([^<]*)</label>', page.text)
    assert found, page.text
    return found[1]


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (1, "What could we have done better?"),
        (2, "What could we have done better?"),
        (3, "What would have made it even better?"),
        (4, "What did you like most?"),
        (5, "What did you like most?"),
    ],
)
def test_the_thank_you_page_asks_what_fits_the_score(
    server: LiveServer, score: int, expected: str
) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = token_for(server, tp["slug"], f"conv-{score}")
    assert prompt_on(post_page(server, token, score=str(score))) == expected


def test_touchpoint_prompts_win_group_by_group_over_its_single_prompt(server: LiveServer) -> None:
    tp = server.add_touchpoint(
        metric="nps",
        comment_prompt="Anything to add?",
        comment_prompts={"detractor": "What went wrong?", "promoter": "What did we nail?"},
    )
    assert tp["comment_prompts"] == {
        "detractor": "What went wrong?",
        "passive": None,
        "promoter": "What did we nail?",
    }
    asked = {}
    for score in (3, 8, 10):
        token = token_for(server, tp["slug"], f"nps-{score}")
        asked[score] = prompt_on(post_page(server, token, score=str(score)))
    assert asked == {3: "What went wrong?", 8: "Anything to add?", 10: "What did we nail?"}


def test_the_built_in_questions_speak_the_touchpoints_language(server: LiveServer) -> None:
    tp = server.add_touchpoint(scale="stars", locale="de")
    token = token_for(server, tp["slug"], "conv-de")
    assert prompt_on(post_page(server, token, score="5")) == "Was hat Ihnen am besten gefallen?"


def test_every_language_has_its_own_question_for_each_group() -> None:
    groups = [f"prompt_{g}" for g in ("low", "neutral", "high")]
    english = table()["en"]
    for language, strings in table().items():
        prompts = [strings[name] for name in groups]
        assert len(set(prompts)) == 3, language
        assert all(p.strip() for p in prompts), language
        if language != "en":
            assert prompts != [english[i] for i in groups], language
