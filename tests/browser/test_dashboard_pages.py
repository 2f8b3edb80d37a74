"""The dashboard in real Chromium: sign-in, numbers equal the API, drill-down, export,
refusals, expiry, the sign-in limit, live updates, weight, 360 px and axe-core.

One server and one signed-in admin context serve the whole module; tests that need
another account or a clean slate open their own context.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from backends import Given
from browser.conftest import eventually, serious
from conftest import Clock, LiveServer, run_server
from dashboard import PASSWORD, add_user, api_keys, in_thread

ADMIN = "admin@example.com"
VIEWER = "viewer@example.com"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[LiveServer]:
    # Started in a thread: it sets up with asyncio.run, and Playwright may hold this loop.
    running = run_server(tmp_path_factory.mktemp("dashboard"), clock=clock)
    server = in_thread(next, running)
    add_user(server, ADMIN, "admin")
    add_user(server, VIEWER, "viewer")
    yield server
    in_thread(next, running, None)


@pytest.fixture(scope="module")
def data(site: LiveServer) -> dict[str, str]:
    """A CSAT and an NPS touchpoint with ratings by two agents over the last 40 days."""
    csat = site.add_touchpoint(slug="checkout", metric="csat", question="How was checkout?")
    nps = site.add_touchpoint(slug="quarterly", metric="nps")
    now = time.time()
    given = []
    for i in range(60):
        agent = "alice" if i % 3 else "bob"
        comment = "slow delivery" if i % 7 == 0 else ("lovely" if i % 5 == 0 else None)
        given.append(Given(now - i * 16 * 3600 - 600, (i % 5) + 1, {"agent": agent}, comment))
    in_thread(site.load, "checkout", given)
    in_thread(site.load, "quarterly", [Given(now - i * 20 * 3600 - 900, i % 11) for i in range(50)])
    return {"csat": csat["slug"], "nps": nps["slug"]}


def sign_in(context: BrowserContext, site: LiveServer, email: str) -> Page:
    page = context.new_page()
    page.goto(f"{site.url}/dashboard")
    assert "/dashboard/login" in page.url
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{site.url}/dashboard")
    return page


@pytest.fixture(scope="module")
def admin(browser: Browser, site: LiveServer, data: dict[str, str]) -> Iterator[BrowserContext]:
    context = browser.new_context(timezone_id="Europe/Berlin")
    sign_in(context, site, ADMIN).close()
    yield context
    context.close()


@pytest.fixture
def page(admin: BrowserContext) -> Iterator[Page]:
    page = admin.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.close()
    assert errors == [], "the page logged errors (a CSP violation shows here)"


def api(site: LiveServer, path: str, **params: Any) -> Any:
    with site.reader() as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def window_since(days: int = 30) -> str:
    """What the dashboard's rolling window starts at: on the hour, `days` ago."""
    return str(int(time.time() // 3600 * 3600 - days * 86400))


def test_sign_in_lands_on_the_overview_in_the_browsers_time_zone(
    admin: BrowserContext, site: LiveServer
) -> None:
    page = admin.new_page()
    page.goto(f"{site.url}/dashboard")
    assert page.locator("h1").inner_text() == "Overview"
    assert "times in Europe/Berlin" in page.locator(".sub").first.inner_text()
    page.close()


def test_overview_numbers_equal_the_api(page: Page, site: LiveServer, data: dict[str, str]) -> None:
    page.goto(f"{site.url}/dashboard")
    for slug in data.values():
        body = api(site, f"/api/v1/touchpoints/{slug}/score", since=window_since())
        card = page.locator(f"[data-touchpoint='{slug}']")
        assert card.locator(".score").get_attribute("data-value") == str(body["score"])
        assert card.locator(".n").inner_text() == str(body["responses"])
        low, high = body["interval"]["low"], body["interval"]["high"]
        assert f"{low:g}" in card.locator(".interval").inner_text()
        assert f"{high:g}" in card.locator(".interval").inner_text()


def test_touchpoint_numbers_equal_the_api_for_the_same_filters(
    page: Page, site: LiveServer, data: dict[str, str]
) -> None:
    slug = data["csat"]
    page.goto(f"{site.url}/dashboard/t/{slug}?window=all&f=agent:alice&min_score=2")
    body = api(site, f"/api/v1/touchpoints/{slug}/score", agent="alice", min_score="2")
    headline = page.locator("#headline")
    assert headline.locator(".score").get_attribute("data-value") == str(body["score"])
    assert headline.locator(".n").inner_text() == str(body["responses"])
    breakdown = api(site, f"/api/v1/touchpoints/{slug}/breakdown", by="agent", min_score="2")
    rows = page.locator("#breakdown tbody tr")
    assert rows.count() == 1  # the filter keeps alice only
    alice = next(g for g in breakdown["groups"] if g["value"] == "alice")
    assert rows.first.locator("td").nth(3).inner_text() == str(alice["responses"])


def test_clicking_a_bar_a_row_and_a_point_filters_the_list(
    page: Page, site: LiveServer, data: dict[str, str]
) -> None:
    slug = data["csat"]
    page.goto(f"{site.url}/dashboard/t/{slug}?window=all")
    page.locator("#distribution table a", has_text="1").first.click()
    page.wait_for_url("**min_score=1**")
    scores = page.locator("#ratings .score-pill").all_inner_texts()
    assert scores
    assert set(scores) == {"1"}
    page.goto(f"{site.url}/dashboard/t/{slug}?window=all")
    page.locator("#breakdown tbody a", has_text="bob").click()
    page.wait_for_url("**f=agent%3Abob**")
    metas = page.locator("#ratings .meta").all_inner_texts()
    assert metas
    assert all("agent: bob" in meta for meta in metas)
    page.goto(f"{site.url}/dashboard/t/{slug}?window=30d&interval=week")
    page.locator("svg.trend a").last.click()
    page.wait_for_url("**since=**")
    assert "until=" in page.url
    total = int(page.locator("#headline .n").inner_text())
    assert 0 < total < 60


def test_the_export_link_carries_the_filter(
    page: Page, site: LiveServer, data: dict[str, str]
) -> None:
    slug = data["csat"]
    page.goto(f"{site.url}/dashboard/t/{slug}?window=all&q=slow&f=agent:bob")
    href = page.locator("a.export", has_text="NDJSON").get_attribute("href")
    assert href is not None
    exported = page.request.get(site.url + href)
    assert exported.status == 200
    lines = [line for line in exported.text().splitlines() if line]
    listed = page.locator("#ratings .rating").count()
    assert len(lines) == listed > 0
    assert all('"slow delivery"' in line and '"bob"' in line for line in lines)


def test_a_viewer_is_refused_by_the_server(
    browser: Browser, site: LiveServer, data: dict[str, str]
) -> None:
    context = browser.new_context()
    try:
        page = sign_in(context, site, VIEWER)
        page.goto(f"{site.url}/dashboard/admin/keys")
        assert page.locator("form[action='/dashboard/admin/keys']").count() == 0
        token = page.locator("input[name=csrf]").first.input_value()
        refused = page.request.post(
            f"{site.url}/dashboard/admin/keys",
            form={"scope": "admin", "name": "viewer-made", "csrf": token},
        )
        assert refused.status == 403
        assert "change nothing" in refused.text()
        with site.admin() as client:
            assert client.get(f"/api/v1/touchpoints/{data['csat']}").json()["active"] is True
        names = [key.name for key in api_keys(site)]
        assert "viewer-made" not in names
    finally:
        context.close()


def test_a_request_without_the_csrf_token_is_refused(page: Page, site: LiveServer) -> None:
    page.goto(f"{site.url}/dashboard/admin/keys")
    refused = page.request.post(
        f"{site.url}/dashboard/admin/keys", form={"scope": "read", "name": "no-token"}
    )
    assert refused.status == 403
    assert "form has expired" in refused.text()
    assert "no-token" not in [key.name for key in api_keys(site)]


def test_an_expired_session_is_sent_to_sign_in(
    browser: Browser, site: LiveServer, clock: Clock, data: dict[str, str]
) -> None:
    context = browser.new_context()
    try:
        page = sign_in(context, site, VIEWER)
        clock.advance(site.settings.session_ttl + 60)
        page.goto(f"{site.url}/dashboard/t/{data['csat']}")
        assert "/dashboard/login" in page.url
        assert "Your session has ended" in page.locator(".notice").inner_text()
    finally:
        clock.advance(-(site.settings.session_ttl + 60))
        context.close()


def test_wrong_passwords_meet_the_sign_in_limit(browser: Browser, site: LiveServer) -> None:
    email = f"guesser-{uuid.uuid4().hex[:6]}@example.com"
    add_user(site, email, "viewer")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/dashboard/login")
        for _ in range(5):
            page.fill("#email", email)
            page.fill("#password", "wrong wrong wrong")
            page.click("form.stack button[type=submit]")
            assert "don't match" in page.locator(".error").inner_text()
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        assert "Too many wrong passwords" in page.locator(".error").inner_text()
        assert "/dashboard/login" in page.url
    finally:
        context.close()


def test_a_new_rating_shows_within_a_second(
    page: Page, site: LiveServer, data: dict[str, str]
) -> None:
    slug = data["nps"]
    token = api(site, f"/api/v1/touchpoints/{slug}")["embed_token"]
    for path, counter in ((f"/dashboard/t/{slug}", "#headline .n"), ("/dashboard", None)):
        page.goto(site.url + path)
        selector = counter or f"[data-touchpoint='{slug}'] .n"
        eventually(lambda: page.locator("#live-status").inner_text() == "Live")
        before = int(page.locator(selector).inner_text())
        with site.client() as client:
            posted = client.post("/api/v1/responses", json={"token": token, "score": 10})
        assert posted.status_code == 201
        sent = time.monotonic()
        page.wait_for_function(
            "([s, n]) => Number(document.querySelector(s).textContent) === n",
            arg=[selector, before + 1],
            timeout=5000,
        )
        assert time.monotonic() - sent < 1.0, path


def test_the_overview_weighs_under_100_kb_on_first_load(
    browser: Browser, admin: BrowserContext, site: LiveServer
) -> None:
    context = browser.new_context(storage_state=admin.storage_state())
    try:
        page = context.new_page()
        sizes: list[int] = []
        page.on("requestfinished", lambda r: sizes.append(r.sizes()["responseBodySize"]))
        page.goto(f"{site.url}/dashboard", wait_until="networkidle")
        assert len(sizes) >= 3  # the page, its style sheet, its script
        assert sum(sizes) <= 100 * 1024, sizes
    finally:
        context.close()


def test_pages_fit_a_360_px_screen(page: Page, site: LiveServer, data: dict[str, str]) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    for path in (
        "/dashboard",
        f"/dashboard/t/{data['csat']}",
        "/dashboard/admin/keys",
        "/dashboard/admin/users",
    ):
        page.goto(site.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, path


def test_the_filter_form_works_from_the_keyboard(
    page: Page, site: LiveServer, data: dict[str, str]
) -> None:
    page.goto(f"{site.url}/dashboard/t/{data['csat']}")
    page.locator("input[name=q]").focus()
    page.keyboard.type("slow")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=slow**")
    comments = page.locator("#ratings .comment").all_inner_texts()
    assert comments
    assert all("slow" in comment for comment in comments)


def pages_to_check(site: LiveServer, data: dict[str, str]) -> list[str]:
    rating = api(site, f"/api/v1/touchpoints/{data['csat']}/responses", limit="1")["responses"][0]
    return [
        "/dashboard",
        f"/dashboard/t/{data['csat']}",
        f"/dashboard/t/{data['nps']}?window=all&comment=with",
        f"/dashboard/ratings/{rating['id']}",
        "/dashboard/admin/touchpoints",
        f"/dashboard/admin/touchpoints/{data['csat']}",
        "/dashboard/admin/keys",
        "/dashboard/admin/users",
        "/dashboard/t/no-such-touchpoint",
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_any_page(
    browser: Browser, admin: BrowserContext, site: LiveServer, data: dict[str, str], scheme: str
) -> None:
    signed_out = browser.new_context(color_scheme=scheme)
    context = browser.new_context(color_scheme=scheme, storage_state=admin.storage_state())
    try:
        page = signed_out.new_page()
        page.goto(f"{site.url}/dashboard/login")
        problems = {"/dashboard/login": serious(page)}
        page = context.new_page()
        for path in pages_to_check(site, data):
            page.goto(site.url + path)
            for details in page.locator("details").all():
                details.evaluate("d => d.open = true")
            problems[path] = serious(page)
        found = {path: found for path, found in problems.items() if found}
        assert not found, "\n".join(f"{p}: {v}" for p, v in found.items())
    finally:
        signed_out.close()
        context.close()
