"""A refused origin is logged on the server once per origin and touchpoint, not per request."""

from __future__ import annotations

import logging

import pytest

from conftest import LiveServer
from scorelet.api.refusals import OriginRefusals, allow_command
from scorelet.scales import scale_for
from scorelet.touchpoints import Touchpoint

SHOP = "https://shop.example.com"


def warnings(caplog: pytest.LogCaptureFixture, slug: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "scorelet" and r.levelno == logging.WARNING and repr(slug) in r.getMessage()
    ]


def touchpoint(origins: tuple[str, ...]) -> Touchpoint:
    return Touchpoint(
        *(1, "checkout", "csat", scale_for("csat", None), None, None, None, None, None, None),
        *(origins, 4, 0, True, 1, 0.0, 0.0),
    )


def test_the_command_repeats_the_origins_already_allowed() -> None:
    assert allow_command(touchpoint((SHOP,)), "http://localhost:3000") == (
        f"scorelet touchpoint update checkout --origin {SHOP} --origin http://localhost:3000"
    )


def test_one_line_per_origin_until_the_quiet_time_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "scorelet")
    refusals = OriginRefusals(quiet=3600)
    checkout = touchpoint((SHOP,))
    assert refusals.refused(checkout, "https://evil.example", "refused POST")
    assert not refusals.refused(checkout, "https://evil.example", "refused POST")
    assert refusals.refused(checkout, "https://other.example", "refused POST")
    assert len(warnings(caplog, "checkout")) == 2
    assert OriginRefusals(quiet=0).refused(checkout, "https://evil.example", "again")


def test_a_refused_rating_is_logged_once_with_the_command_that_allows_it(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "scorelet")
    tp = server.add_touchpoint(origins=[SHOP])
    with server.client() as client:
        for _ in range(3):
            refused = client.post(
                "/api/v1/responses",
                json={"token": tp["embed_token"], "score": 5},
                headers={"origin": "https://blog.example.com"},
            )
            assert refused.status_code == 403
    (line,) = warnings(caplog, tp["slug"])
    assert "https://blog.example.com is not an allowed origin" in line
    assert "refused POST /api/v1/responses" in line
    assert line.endswith(
        f"scorelet touchpoint update {tp['slug']} --origin {SHOP} --origin https://blog.example.com"
    )


def test_a_page_loading_the_tag_from_elsewhere_is_logged_and_allowed_pages_are_not(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "scorelet")
    tp = server.add_touchpoint(origins=[SHOP])
    with server.client() as client:
        client.get(f"/s/{tp['embed_token']}.js", headers={"referer": SHOP + "/cart"})
        assert warnings(caplog, tp["slug"]) == []
        client.get(f"/s/{tp['embed_token']}.js", headers={"referer": "http://localhost:3000/"})
    (line,) = warnings(caplog, tp["slug"])
    assert "http://localhost:3000 is not an allowed origin" in line
    assert "stays hidden" in line


def test_a_referer_that_is_no_url_is_no_error(server: LiveServer) -> None:
    """Any client can send any Referer; one that can't be parsed is nothing to log."""
    tp = server.add_touchpoint(origins=[SHOP])
    with server.client() as client:
        answer = client.get(f"/s/{tp['embed_token']}.js", headers={"referer": "http://[::g]/"})
    assert answer.status_code == 200
    assert "javascript" in answer.headers["content-type"]
