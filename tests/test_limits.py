"""Abuse controls: rate limits, trusted proxies, CORS for allowed origins, security headers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveServer, run_server
from scorelet.api.headers import html_headers
from scorelet.api.middleware.cors import allow_origin
from scorelet.api.middleware.deadlines import BodyDeadlines
from scorelet.api.middleware.guard import Guard, limited_path
from scorelet.config import SettingsError, load_settings
from scorelet.dedup import ClientWindow
from scorelet.limits import Buckets, Limits, Rate
from scorelet.tokens import Signer


def scope(client: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (client, 5000), "headers": headers}


# -- the buckets, with an explicit clock --------------------------------------------


def test_a_bucket_allows_its_burst_then_refuses_with_the_wait() -> None:
    buckets = Buckets(Rate(per_second=2, burst=3))
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == pytest.approx(0.5)
    assert buckets.take("b", 0.0) == 0.0  # another key has its own bucket


def test_a_bucket_refills_at_its_rate() -> None:
    buckets = Buckets(Rate(per_second=2, burst=3))
    for _ in range(3):
        buckets.take("a", 10.0)
    assert buckets.take("a", 10.5) == 0.0  # one token back after half a second
    assert buckets.take("a", 10.5) > 0


def test_buckets_stay_bounded_under_a_flood_of_addresses() -> None:
    buckets = Buckets(Rate(per_second=1, burst=2), max_buckets=100)
    for _ in range(2):
        buckets.take("busy", 1000.0)
    for i in range(10_000):
        buckets.take(f"flood-{i}", 0.0 + i * 0.0001)
    assert len(buckets) <= 100


def test_only_a_trusted_proxy_may_name_the_client() -> None:
    limits = Limits(Rate(1, 1), Rate(1, 1), trusted_proxies=["10.0.0.0/8"])
    assert limits.client_ip(scope("10.1.2.3", "203.0.113.7")) == "203.0.113.7"
    assert limits.client_ip(scope("198.51.100.9", "203.0.113.7")) == "198.51.100.9"
    # A client can prepend whatever it likes; the rightmost untrusted hop is believed.
    assert limits.client_ip(scope("10.1.2.3", "1.1.1.1, 203.0.113.7, 10.9.9.9")) == "203.0.113.7"
    assert limits.client_ip(scope("10.1.2.3", "not-an-ip")) == "not-an-ip"
    assert limits.client_ip(scope("10.1.2.3")) == "10.1.2.3"
    assert Limits(Rate(1, 1), Rate(1, 1)).client_ip(scope("10.1.2.3", "1.1.1.1")) == "10.1.2.3"


@pytest.mark.parametrize(
    ("method", "path", "limited"),
    [
        ("POST", "/api/v1/responses", True),
        ("PATCH", "/api/v1/responses/abc", True),
        ("POST", "/api/v1/impressions", True),
        ("GET", "/r/s.token", True),
        ("GET", "/api/v1/touchpoints/x/score", False),
        ("POST", "/api/v1/touchpoints", False),
        ("GET", "/healthz", False),
        ("GET", "/widget.js", False),
    ],
)
def test_the_limits_cover_the_public_paths_only(method: str, path: str, limited: bool) -> None:
    assert limited_path(method, path) is limited


def test_limit_settings_come_from_the_environment() -> None:
    settings = load_settings(
        {
            "SCORELET_RATE_LIMIT": "off",
            "SCORELET_IP_RATE": "2.5",
            "SCORELET_IP_BURST": "9",
            "SCORELET_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
            "SCORELET_FRAME_ANCESTORS": "'self' https://app.example.com",
        }
    )
    assert settings.rate_limit is False
    assert (settings.ip_rate, settings.ip_burst) == (2.5, 9)
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")
    assert settings.frame_ancestors == "'self' https://app.example.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCORELET_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("SCORELET_IP_RATE", "0"),
        ("SCORELET_IP_BURST", "-1"),
        ("SCORELET_BODY_TIMEOUT", "soon"),
        ("SCORELET_FRAME_ANCESTORS", "'self'; script-src *"),
    ],
)
def test_bad_limit_settings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_html_headers_are_strict_and_frame_as_configured() -> None:
    headers = html_headers("'none'")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    framed = html_headers("https://chat.example.com")
    assert "frame-ancestors https://chat.example.com" in framed["Content-Security-Policy"]
    assert "X-Frame-Options" not in framed


# -- over HTTP ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(
        tmp_path_factory.mktemp("tight"),
        ip_rate=0.01,
        ip_burst=3,
        touchpoint_rate=0.01,
        touchpoint_burst=4,
    )


def count(server: LiveServer) -> int:
    with server.reader() as client:
        scores = client.get("/api/v1/scores").json()["touchpoints"]
    return sum(score["responses"] for score in scores)


def submit(server: LiveServer, token: str, ip: str, **headers: str) -> Any:
    with server.client() as client:
        return client.post(
            "/api/v1/responses",
            json={"token": token, "score": 4},
            headers={"x-forwarded-for": ip, **headers},
        )


def test_a_client_over_its_rate_gets_429_with_retry_after(tight: LiveServer) -> None:
    token = tight.add_touchpoint()["embed_token"]
    codes = [submit(tight, token, "203.0.113.1").status_code for _ in range(3)]
    before = count(tight)
    refused = submit(tight, token, "203.0.113.1")
    assert codes == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert count(tight) == before
    # Another client (named by the trusted loopback proxy) and the read API still work.
    assert submit(tight, token, "203.0.113.2").status_code == 201
    with tight.reader() as client:
        for _ in range(10):
            assert client.get("/healthz").status_code == 200


def test_a_flooded_touchpoint_is_limited_without_touching_others(tight: LiveServer) -> None:
    flooded = tight.add_touchpoint()["embed_token"]
    other = tight.add_touchpoint()["embed_token"]
    codes = [submit(tight, flooded, f"198.51.100.{i}").status_code for i in range(5)]
    assert codes == [201, 201, 201, 201, 429]
    assert submit(tight, other, "198.51.100.200").status_code == 201


def test_rate_limits_can_be_switched_off(tmp_path: Path) -> None:
    for server in run_server(tmp_path, ip_rate=0.01, ip_burst=1, rate_limit=False):
        token = server.add_touchpoint()["embed_token"]
        assert {submit(server, token, "192.0.2.1").status_code for _ in range(5)} == {201}


@pytest.fixture(scope="module")
def shop(server: LiveServer) -> dict[str, Any]:
    return server.add_touchpoint(origins=["https://shop.example.com"])


def test_an_allowed_origin_may_read_its_answer(server: LiveServer, shop: dict[str, Any]) -> None:
    origin = {"origin": "https://shop.example.com"}
    with server.client() as client:
        ok = client.post(
            "/api/v1/responses", json={"token": shop["embed_token"], "score": 5}, headers=origin
        )
        bad = client.post(
            "/api/v1/responses", json={"token": shop["embed_token"], "score": 9}, headers=origin
        )
    assert ok.status_code == 201
    assert ok.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "Origin" in ok.headers["vary"]
    assert bad.status_code == 422  # the widget can read why, too
    assert bad.headers["access-control-allow-origin"] == "https://shop.example.com"


def test_another_origin_gets_403_and_no_cors(server: LiveServer, shop: dict[str, Any]) -> None:
    with server.client() as client:
        response = client.post(
            "/api/v1/responses",
            json={"token": shop["embed_token"], "score": 5},
            headers={"origin": "https://evil.example.net"},
        )
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers


def test_a_touchpoint_without_origins_echoes_any(server: LiveServer) -> None:
    token = server.add_touchpoint()["embed_token"]
    with server.client() as client:
        response = client.post(
            "/api/v1/impressions", json={"token": token}, headers={"origin": "https://a.example"}
        )
        forged = client.post(
            "/api/v1/impressions", json={"token": "e.x.y"}, headers={"origin": "https://a.example"}
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert forged.status_code == 403
    assert "access-control-allow-origin" not in forged.headers


def test_preflight_is_answered_and_read_endpoints_send_no_cors(server: LiveServer) -> None:
    origin = {"origin": "https://a.example", "access-control-request-method": "PATCH"}
    with server.reader() as client:
        preflight = client.options("/api/v1/responses/x", headers=origin)
        touchpoints = client.get("/api/v1/touchpoints", headers=origin)
        health = client.get("/healthz", headers=origin)
    assert preflight.status_code == 204
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    for response in (touchpoints, health):
        assert response.status_code == 200
        assert not any(name.startswith("access-control") for name in response.headers)


def test_every_answer_says_nosniff(server: LiveServer) -> None:
    with server.reader() as client:
        responses = [
            client.get("/healthz"),
            client.get("/openapi.json"),
            client.get("/api/v1/touchpoints"),
            client.get("/no/such/page"),
            client.post("/api/v1/responses", content=b"{", headers={"content-type": "text/plain"}),
        ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]


# -- one rating per browser (client id) -------------------------------------------------


def test_a_client_window_remembers_the_first_rating_until_it_closes() -> None:
    window = ClientWindow(3600, max_entries=10)
    assert window.previous(1, "c" * 16, 0.0) is None
    window.remember(1, "c" * 16, "first", 0.0)
    window.remember(1, "c" * 16, "second", 10.0)  # the window runs from the first
    assert window.previous(1, "c" * 16, 100.0) == "first"
    assert window.previous(2, "c" * 16, 100.0) is None  # per touchpoint
    assert window.previous(1, "c" * 16, 3600.0) is None  # closed (with a margin)
    for i in range(100):
        window.remember(1, f"client-{i:010d}", str(i), 0.0)
    assert len(window) <= 10


def test_the_same_browser_rating_again_replaces_its_rating(server: LiveServer) -> None:
    tp = server.add_touchpoint()
    browser, other = "b" * 24, "o" * 24
    with server.client() as client:

        def rate(score: int, who: str, **extra: Any) -> Any:
            body = {"token": tp["embed_token"], "score": score, "client": who, **extra}
            return client.post("/api/v1/responses", json=body)

        first = rate(1, browser)
        again = rate(5, browser, id=str(uuid.uuid4()))  # a reload: a fresh rating id
        someone = rate(3, other)
    assert (first.status_code, again.status_code, someone.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"]
    assert sorted(r["score"] for r in server.ratings(tp["slug"])) == [3, 5]


@pytest.mark.parametrize("value", ["short", "x" * 65, "has spaces in it!!", 12345678901234567])
def test_a_malformed_client_id_is_refused(server: LiveServer, value: Any) -> None:
    tp = server.add_touchpoint()
    with server.client() as client:
        response = client.post(
            "/api/v1/responses", json={"token": tp["embed_token"], "score": 4, "client": value}
        )
    assert response.status_code == 422
    assert response.json()["field"] == "client"


def test_the_hosted_page_is_strict_and_rate_limited(tight: LiveServer) -> None:
    slug = tight.add_touchpoint()["slug"]
    token = Signer(tight.settings.secrets).mint_subject(slug, "conv-7", {}, 4_000_000_000)
    with tight.client() as client:
        pages = [
            client.get(f"/r/{token}", headers={"x-forwarded-for": "192.0.2.77"}) for _ in range(4)
        ]
    page = pages[0]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"  # the URL carries a token
    assert page.headers["x-content-type-options"] == "nosniff"
    assert [p.status_code for p in pages[1:]] == [200, 200, 429]
    assert pages[3].headers["content-type"] == "application/problem+json"


# -- Guard: the four jobs in one middleware, driven directly over ASGI --------------------


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    """A stand-in handler: reads the body, accepts the origin when told to, answers JSON."""
    message = await receive()
    if b"allow" in message.get("body", b""):
        allow_origin(scope, dict(scope["headers"])[b"origin"].decode())
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def guarded(burst: int = 100) -> httpx.AsyncClient:
    limits = Limits(Rate(0.001, burst), Rate(0.001, burst), trusted_proxies=["127.0.0.1/32"])
    app = Guard(_inner, limits=limits, deadlines=BodyDeadlines(10))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scorelet")


async def test_guard_adds_nosniff_and_cors_only_where_the_handler_allowed() -> None:
    origin = {"origin": "https://shop.example.com"}
    async with guarded() as client:
        allowed = await client.post("/api/v1/responses", content=b"allow", headers=origin)
        refused = await client.post("/api/v1/responses", content=b"no", headers=origin)
        private = await client.post("/api/v1/touchpoints", content=b"allow", headers=origin)
        preflight = await client.options("/api/v1/impressions", headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in private.headers
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example.com"
    for response in (allowed, refused, private):
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]


async def test_guard_limits_the_public_paths_per_address() -> None:
    async with guarded(burst=2) as client:
        codes = [
            (await client.post("/api/v1/impressions", content=b"{}")).status_code for _ in range(3)
        ]
        other = await client.post("/api/v1/touchpoints", content=b"{}")
    assert codes == [201, 201, 429]
    assert other.status_code == 201
