"""The hosted rating page in real Chromium: one-click email links, comment, change of mind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from browser.conftest import Visit, eventually, open_page
from conftest import SECRET, LiveServer
from scorelet.mint import mint_subject_token
from scorelet.tokens import Signer

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 720}


def minted(server: LiveServer, slug: str, subject: str, **context: str) -> dict[str, Any]:
    with server.client(server.mint_key) as client:
        response = client.post(
            "/api/v1/tokens",
            json={"touchpoint": slug, "subject": subject, "context": context, "ttl": "1h"},
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def rows(server: LiveServer, slug: str) -> list[tuple[Any, ...]]:
    return [(r["score"], r["comment"], r["context"]) for r in server.ratings(slug)]


@pytest.fixture(scope="module")
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context
    context.close()


@pytest.fixture
def tab(phone: BrowserContext) -> Iterator[Any]:
    pages: list[Page] = []

    def open_tab(url: str) -> Visit:
        visit = open_page(phone, url)
        pages.append(visit.page)
        return visit

    yield open_tab
    for page in pages:
        page.close()


def csp_errors(visit: Visit) -> list[str]:
    return [m.text for m in visit.console if m.type == "error"]


def no_horizontal_scroll(page: Page) -> bool:
    overflow: bool = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return overflow


def test_one_click_link_confirm_then_comment(server: LiveServer, tab: Any) -> None:
    tp = server.add_touchpoint(scale="stars", question="How did Alice do?")
    token = minted(server, tp["slug"], "conv-1", agent="alice")
    visit: Visit = tab(token["rating_url"] + "?score=4")
    page = visit.page
    assert page.locator("input[name=score][value='4']").is_checked()
    assert rows(server, tp["slug"]) == []  # opening the link saved nothing
    assert no_horizontal_scroll(page)

    page.get_by_role("button", name="Confirm rating").click()
    page.get_by_role("heading", name="Thank you for your feedback!").wait_for()
    assert rows(server, tp["slug"]) == [(4, None, {"agent": "alice"})]

    page.get_by_label("What did you like most?").fill("Solved in minutes")  # 4 of 5: "high"
    page.get_by_role("button", name="Send").click()
    page.get_by_text("Your comment was saved.").wait_for()
    assert rows(server, tp["slug"]) == [(4, "Solved in minutes", {"agent": "alice"})]
    assert visit.errors == []
    assert csp_errors(visit) == []


def test_change_of_mind_from_the_thank_you_page(server: LiveServer, tab: Any) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = minted(server, tp["slug"], "conv-2")
    visit: Visit = tab(token["rating_url"] + "?score=5")
    page = visit.page
    page.get_by_role("button", name="Confirm rating").click()
    page.get_by_role("link", name="2 stars").click()
    assert page.locator("input[name=score][value='2']").is_checked()
    page.get_by_text("Your rating: 5 stars").wait_for()
    assert [r[0] for r in rows(server, tp["slug"])] == [5]
    page.get_by_role("button", name="Confirm rating").click()
    page.get_by_text("Your rating: 2 stars").wait_for()
    assert [r[0] for r in rows(server, tp["slug"])] == [2]
    assert visit.errors == []


def test_an_expired_link_says_so_with_410(server: LiveServer, tab: Any) -> None:
    tp = server.add_touchpoint(scale="stars")
    signer = Signer([SECRET])
    token = mint_subject_token(signer, tp["slug"], "conv-3", ttl=60, now=time.time() - 120).token
    visit: Visit = tab(f"{server.url}/r/{token}?score=5")
    response = visit.page.goto(f"{server.url}/r/{token}?score=5")
    assert response is not None
    assert response.status == 410
    visit.page.get_by_role("heading", name="This rating link has expired").wait_for()
    assert visit.page.locator("form").count() == 0
    assert rows(server, tp["slug"]) == []


def test_the_plain_link_mounts_the_widget_which_records_a_click(
    server: LiveServer, tab: Any
) -> None:
    tp = server.add_touchpoint(scale="stars", origins=["https://chat.example.com"])
    token = minted(server, tp["slug"], "conv-4", agent="bob")
    visit: Visit = tab(token["rating_url"])
    page = visit.page
    star = page.locator("[data-scorelet] [role=radio][data-score='3']")
    star.wait_for()
    eventually(lambda: page.locator("form.rate").count() == 0)  # the fallback form is gone
    star.click()
    eventually(lambda: rows(server, tp["slug"]) == [(3, None, {"agent": "bob"})])
    assert no_horizontal_scroll(page)
    assert visit.errors == []
    assert csp_errors(visit) == []


def test_without_javascript_the_page_is_a_working_form(
    server: LiveServer, browser: Browser
) -> None:
    tp = server.add_touchpoint(metric="nps")
    token = minted(server, tp["slug"], "conv-5")
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(token["rating_url"])
        page.get_by_text("9", exact=True).click()
        page.get_by_role("button", name="Send").click()
        page.get_by_role("heading", name="Thank you for your feedback!").wait_for()
    finally:
        context.close()
    assert [r[0] for r in rows(server, tp["slug"])] == [9]


def test_the_plain_link_shows_an_earlier_rating_in_the_widget(server: LiveServer, tab: Any) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = minted(server, tp["slug"], "conv-6")
    with server.client() as client:
        client.post(f"/r/{token['token']}", data={"score": "2"})
    visit: Visit = tab(token["rating_url"])
    page = visit.page
    two = page.locator("[data-scorelet] [role=radio][data-score='2']")
    two.wait_for()
    eventually(lambda: two.get_attribute("aria-checked") == "true")
    page.locator("[data-scorelet] [role=radio][data-score='5']").click()
    eventually(lambda: [r[0] for r in rows(server, tp["slug"])] == [5])
    assert visit.errors == []


def top_of_each(page: Page, selector: str) -> set[float]:
    boxes = [page.locator(selector).nth(i).bounding_box() for i in range(5)]
    return {box["y"] for box in boxes if box}


def test_on_a_390_px_phone_five_stars_sit_on_one_row(server: LiveServer, browser: Browser) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = minted(server, tp["slug"], "conv-390")
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(token["rating_url"] + "?score=4")  # the email link's confirm step: the form
        assert len(top_of_each(page, ".scale label")) == 1
        assert page.locator(".scale label").count() == 5
        page.goto(token["rating_url"])  # the widget, mounted over the form
        page.locator("[data-scorelet] [role=radio]").first.wait_for()
        assert len(top_of_each(page, "[data-scorelet] [role=radio]")) == 1
        assert no_horizontal_scroll(page)
    finally:
        context.close()


def test_a_branded_page_shows_the_name_logo_and_accent_under_its_strict_policy(
    server: LiveServer, tab: Any
) -> None:
    logo = f"{server.url}/favicon.ico"
    tp = server.add_touchpoint(
        scale="stars", brand_name="Acme Support", brand_logo=logo, brand_accent="#c026d3"
    )
    token = minted(server, tp["slug"], "conv-brand")
    visit: Visit = tab(token["rating_url"] + "?score=5")
    page = visit.page
    assert page.title().endswith("· Acme Support")
    header = page.locator("header.brand")
    assert header.inner_text() == "Acme Support"
    assert header.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    confirm = page.get_by_role("button", name="Confirm rating")
    assert confirm.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(192, 38, 211)"
    page.goto(token["rating_url"])
    star = page.locator("[data-scorelet] [role=radio][data-score='5']")
    star.click()
    widget_button = page.locator("[data-scorelet] button.p").first
    widget_button.wait_for()
    assert widget_button.evaluate("b => getComputedStyle(b).backgroundColor") == (
        "rgb(192, 38, 211)"
    )
    assert visit.errors == []
    assert csp_errors(visit) == []
