"""The dashboard over real HTTP: accounts, sessions, CSRF, roles, filters and exports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends import Given
from conftest import Clock, LiveServer, run_server
from dashboard import PASSWORD, add_user, admin_get, close_clients, csrf_of, sign_in

ON_EVERY_BACKEND = True


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, clock: Clock, backend: str
) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("dash"), clock=clock, backend=backend)


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_clients()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def test_pages_need_a_session_and_come_back_after_sign_in(site: LiveServer) -> None:
    email = unique("ana")
    add_user(site, email, "admin")
    with httpx.Client(base_url=site.url, follow_redirects=False) as client:
        away = client.get("/dashboard/admin/keys?x=1")
        assert away.status_code == 303
        assert (
            away.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fadmin%2Fkeys%3Fx%3D1"
        )
        page = client.get(away.headers["location"])
        assert 'name="email"' in page.text
        assert 'name="password"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        signed = client.post(
            "/dashboard/login",
            data={
                "email": email.upper(),
                "password": PASSWORD,
                "csrf": csrf_of(page.text),
                "next": "/dashboard/admin/keys",
            },
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/dashboard/admin/keys"
        cookie = signed.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=lax", "Path=/dashboard"):
            assert attribute.lower() in cookie.lower()
        assert "secure" not in cookie.lower()  # plain HTTP here
        assert client.get("/dashboard/admin/keys").status_code == 200


def test_sign_in_goes_only_to_dashboard_paths(site: LiveServer) -> None:
    email = unique("next")
    add_user(site, email, "viewer")
    with httpx.Client(base_url=site.url, follow_redirects=False) as client:
        page = client.get("/dashboard/login")
        for target in ("https://evil.example/", "//evil.example/dashboard", "/api/v1/scores"):
            response = client.post(
                "/dashboard/login",
                data={
                    "email": email,
                    "password": PASSWORD,
                    "csrf": csrf_of(page.text),
                    "next": target,
                },
            )
            assert response.headers["location"] == "/dashboard", target
            client.cookies.clear()
            page = client.get("/dashboard/login")


def test_a_wrong_password_says_so_without_saying_which_part(site: LiveServer) -> None:
    email = unique("wrong")
    add_user(site, email, "viewer")
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/dashboard/login")
        for address in (email, unique("nobody")):
            refused = client.post(
                "/dashboard/login",
                data={"email": address, "password": "not it at all", "csrf": csrf_of(page.text)},
            )
            assert refused.status_code == 401
            assert "don&#39;t match an account" in refused.text
            assert "scorelet_session" not in refused.headers.get("set-cookie", "")


def test_sign_in_without_the_forms_token_is_refused(site: LiveServer) -> None:
    email = unique("csrf")
    add_user(site, email, "admin")
    with httpx.Client(base_url=site.url) as client:
        client.get("/dashboard/login")
        refused = client.post("/dashboard/login", data={"email": email, "password": PASSWORD})
        assert refused.status_code == 403
        assert "scorelet_session" not in refused.headers.get("set-cookie", "")


def test_a_changing_request_without_its_token_or_from_elsewhere_is_refused(
    site: LiveServer,
) -> None:
    email = unique("admin")
    add_user(site, email, "admin")
    client = sign_in(site, email)
    before = len(admin_get(site, "/api/v1/touchpoints").json()["touchpoints"])
    page = client.get("/dashboard/admin/touchpoints")
    token = csrf_of(page.text)
    form = {"slug": f"tp-{uuid.uuid4().hex[:8]}", "metric": "csat"}
    assert client.post("/dashboard/admin/touchpoints", data=form).status_code == 403
    forged = {**form, "csrf": token[:-4] + "AAAA"}
    assert client.post("/dashboard/admin/touchpoints", data=forged).status_code == 403
    elsewhere = client.post(
        "/dashboard/admin/touchpoints",
        data={**form, "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    cross = client.post(
        "/dashboard/admin/touchpoints",
        data={**form, "csrf": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    assert len(admin_get(site, "/api/v1/touchpoints").json()["touchpoints"]) == before
    made = client.post("/dashboard/admin/touchpoints", data={**form, "csrf": token})
    assert made.status_code == 303
    assert admin_get(site, f"/api/v1/touchpoints/{form['slug']}").status_code == 200


def test_a_token_from_another_session_is_refused(site: LiveServer) -> None:
    email = unique("two")
    add_user(site, email, "admin")
    first, second = sign_in(site, email), sign_in(site, email)
    token = csrf_of(first.get("/dashboard/admin/keys").text)
    stolen = second.post("/dashboard/admin/keys", data={"scope": "read", "csrf": token})
    assert stolen.status_code == 403


def test_a_viewer_sees_everything_and_the_server_refuses_its_changes(site: LiveServer) -> None:
    slug = site.add_touchpoint()["slug"]
    email = unique("viewer")
    add_user(site, email, "viewer")
    client = sign_in(site, email)
    for path in ("/dashboard", f"/dashboard/t/{slug}", "/dashboard/admin/keys"):
        page = client.get(path)
        assert page.status_code == 200, path
    settings = client.get(f"/dashboard/admin/touchpoints/{slug}").text
    assert "Save settings" not in settings
    assert "Rotate the embed token" not in settings
    token = csrf_of(client.get("/dashboard/admin/keys").text)
    keys = len(admin_get(site, "/api/v1/touchpoints").json()["touchpoints"])
    attempts = [
        ("/dashboard/admin/keys", {"scope": "admin"}),
        ("/dashboard/admin/touchpoints", {"slug": "viewer-made", "metric": "csat"}),
        (f"/dashboard/admin/touchpoints/{slug}/pause", {}),
        (f"/dashboard/admin/touchpoints/{slug}", {"question": "Changed?"}),
        ("/dashboard/admin/users", {"email": unique("sneak"), "role": "admin"}),
    ]
    for path, form in attempts:
        refused = client.post(path, data={**form, "csrf": token})
        assert refused.status_code == 403, path
        assert "change nothing" in refused.text
    touchpoint = admin_get(site, f"/api/v1/touchpoints/{slug}").json()
    assert touchpoint["active"] is True
    assert touchpoint["question"] is None
    assert len(admin_get(site, "/api/v1/touchpoints").json()["touchpoints"]) == keys


def test_signing_out_ends_every_session_of_the_account(site: LiveServer) -> None:
    email = unique("out")
    add_user(site, email, "viewer")
    laptop, phone = sign_in(site, email), sign_in(site, email)
    token = csrf_of(laptop.get("/dashboard").text)
    out = laptop.post("/dashboard/logout", data={"csrf": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/dashboard/login?notice=out"
    again = phone.get("/dashboard")
    assert again.status_code == 303
    assert again.headers["location"].endswith("&notice=ended")


def test_an_expired_session_goes_back_to_sign_in(site: LiveServer, clock: Clock) -> None:
    email = unique("late")
    add_user(site, email, "viewer")
    client = sign_in(site, email)
    assert client.get("/dashboard").status_code == 200
    clock.advance(site.settings.session_ttl + 1)
    try:
        expired = client.get("/dashboard/t/x?window=7d")
        assert expired.status_code == 303
        assert expired.headers["location"].startswith("/dashboard/login?next=")
        notice = client.get(expired.headers["location"])
        assert "Your session has ended" in notice.text
    finally:
        clock.advance(-(site.settings.session_ttl + 1))


def test_a_set_password_link_works_once_and_a_reset_ends_sessions(site: LiveServer) -> None:
    email = unique("link")
    link = add_user(site, email, "viewer", password=None)
    with httpx.Client(base_url=site.url) as client:
        page = client.get(f"/dashboard/password/{link}")
        assert page.status_code == 200
        assert email in page.text
        short = client.post(
            f"/dashboard/password/{link}",
            data={"password": "short", "confirm": "short", "csrf": csrf_of(page.text)},
        )
        assert short.status_code == 400
        assert "at least 10 characters" in short.text
        new = "a much better passphrase"
        done = client.post(
            f"/dashboard/password/{link}",
            data={"password": new, "confirm": new, "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert done.status_code == 303
        used = client.get(f"/dashboard/password/{link}")
        assert used.status_code == 410
        assert "used already" in used.text
    session = sign_in(site, email, new)
    admin_email = unique("resetter")
    add_user(site, admin_email, "admin")
    admin = sign_in(site, admin_email)
    token = csrf_of(admin.get("/dashboard/admin/users").text)
    reset = admin.post("/dashboard/admin/users/reset", data={"email": email, "csrf": token})
    assert reset.status_code == 200
    assert "/dashboard/password/" in reset.text
    assert session.get("/dashboard").status_code == 303


def test_removing_an_account_ends_its_sessions_but_not_yourself(site: LiveServer) -> None:
    admin_email, other = unique("boss"), unique("leaver")
    add_user(site, admin_email, "admin")
    add_user(site, other, "viewer")
    admin, leaver = sign_in(site, admin_email), sign_in(site, other)
    token = csrf_of(admin.get("/dashboard/admin/users").text)
    itself = admin.post("/dashboard/admin/users/remove", data={"email": admin_email, "csrf": token})
    assert itself.status_code == 400
    assert "your own account" in itself.text
    gone = admin.post("/dashboard/admin/users/remove", data={"email": other, "csrf": token})
    assert gone.status_code == 303
    assert leaver.get("/dashboard").status_code == 303


def test_wrong_passwords_are_limited_per_account(site: LiveServer) -> None:
    email = unique("guess")
    add_user(site, email, "viewer")
    with httpx.Client(base_url=site.url) as client:
        token = csrf_of(client.get("/dashboard/login").text)
        for _ in range(5):
            wrong = client.post(
                "/dashboard/login", data={"email": email, "password": "guess guess", "csrf": token}
            )
            assert wrong.status_code == 401
        # Now even the right password waits: the guesser can't tell it was right.
        limited = client.post(
            "/dashboard/login", data={"email": email, "password": PASSWORD, "csrf": token}
        )
        assert limited.status_code == 429
        assert "Too many wrong passwords" in limited.text
        assert limited.headers["retry-after"]
    other = unique("bystander")
    add_user(site, other, "viewer")
    assert sign_in(site, other).get("/dashboard").status_code == 200


def test_cookies_are_secure_behind_a_tls_proxy(tmp_path: Path) -> None:
    for server in run_server(tmp_path / "tls"):
        email = unique("tls")
        add_user(server, email, "viewer")
        with httpx.Client(base_url=server.url, headers={"X-Forwarded-Proto": "https"}) as client:
            page = client.get("/dashboard/login")
            assert "secure" in page.headers["set-cookie"].lower()
            # The client speaks plain HTTP to the "proxy", so it holds back Secure cookies:
            # hand the form cookie over as the browser behind TLS would.
            form_cookie = page.headers["set-cookie"].split(";")[0]
            signed = client.post(
                "/dashboard/login",
                data={"email": email, "password": PASSWORD, "csrf": csrf_of(page.text)},
                headers={
                    "Origin": server.url.replace("http://", "https://"),
                    "Cookie": form_cookie,
                },
                follow_redirects=False,
            )
            assert signed.status_code == 303
            assert "secure" in signed.headers["set-cookie"].lower()


def test_a_bad_filter_is_a_page_naming_it(site: LiveServer) -> None:
    slug = site.add_touchpoint()["slug"]
    email = unique("filter")
    add_user(site, email, "viewer")
    client = sign_in(site, email)
    for query, field in (
        ("window=3d", "window"),
        ("min_score=x", "min_score"),
        ("min_score=4&max_score=2", "max_score"),
        ("f=agent", "f"),
        ("since=2026-13-01&until=2026-12-01", "since"),
        ("tz=Mars/Olympus", "tz"),
        ("comment=maybe", "comment"),
        ("nonsense=1", "nonsense"),
    ):
        page = client.get(f"/dashboard/t/{slug}?{query}")
        assert page.status_code == 400, query
        assert f"(in {field})" in page.text, query


def test_numbers_and_export_follow_the_filter_as_the_api_does(site: LiveServer) -> None:
    touchpoint = site.add_touchpoint(metric="csat")
    slug = touchpoint["slug"]
    now = time.time()
    site.load(
        slug,
        [
            Given(now - 3600, 5, {"agent": "alice"}, "Quick and easy"),
            Given(now - 7200, 2, {"agent": "bob"}, "Far too SLOW"),
            Given(now - 9000, 1, {"agent": "bob"}),
            Given(now - 86400 * 2, 4, {"agent": "alice"}, "slow start, fine end"),
            Given(now - 86400 * 60, 5, {"agent": "bob"}, "old and slow"),
        ],
    )
    email = unique("numbers")
    add_user(site, email, "viewer")
    client = sign_in(site, email)
    since = str(int(now // 3600 * 3600 - 30 * 86400))
    with site.reader() as reader:
        api = reader.get(
            f"/api/v1/touchpoints/{slug}/score", params={"since": since, "has_comment": "true"}
        ).json()
    assert api["responses"] == 3
    assert api["response_rate_reason"] == "rating_filters"
    page = client.get(f"/dashboard/t/{slug}?comment=with").text
    assert f'data-value="{api["score"]}"' in page
    assert f'<dd class="n">{api["responses"]}</dd>' in page
    exported = client.get(f"/dashboard/t/{slug}/export?format=ndjson&q=slow&f=agent:bob")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    rows = [line for line in exported.text.splitlines() if line]
    assert len(rows) == 1
    assert "Far too SLOW" in rows[0]
    everything = client.get(f"/dashboard/t/{slug}/export?format=csv&window=all&q=slow")
    assert everything.text.count("\n") == 1 + 3


def test_the_preview_widget_stores_nothing(site: LiveServer) -> None:
    slug = site.add_touchpoint()["slug"]
    email = unique("preview")
    add_user(site, email, "admin")
    client = sign_in(site, email)
    loader = client.get(f"/dashboard/preview/{slug}/s/preview.js")
    assert loader.status_code == 200
    assert f"/dashboard/preview/{slug}" in loader.text
    sent = client.post(
        f"/dashboard/preview/{slug}/api/v1/responses",
        content=b'{"token": "preview", "score": 5, "id": "abc"}',
        headers={"Content-Type": "text/plain"},
    )
    assert sent.status_code == 201
    assert sent.json()["id"] == "abc"
    assert site.score(slug)["responses"] == 0
    anonymous = httpx.get(f"{site.url}/dashboard/preview/{slug}/s/preview.js")
    assert anonymous.status_code == 303
