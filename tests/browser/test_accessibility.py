"""axe-core on what visitors see, light and dark: the widget on each scale (asked, and
asking for a comment), the hosted rating page (asking, thanked, expired) and the demo page.
Nothing serious or critical; the dashboard's pages are checked in test_dashboard_pages.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from browser.conftest import HostPages, eventually, serious
from conftest import SECRET, LiveServer
from scorelet.mint import mint_subject_token
from scorelet.tokens import Signer
from test_serve import serving

pytestmark = pytest.mark.browser
SCHEMES = ["light", "dark"]


@pytest.fixture(params=SCHEMES)
def themed(request: pytest.FixtureRequest, browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(color_scheme=request.param)
    yield context
    context.close()


def opened(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    return page


@pytest.mark.parametrize("scale", ["stars", "smileys", "nps"])
def test_the_widget_asking_and_asking_for_a_comment(
    server: LiveServer, host: HostPages, themed: BrowserContext, scale: str
) -> None:
    tp = (
        server.add_touchpoint(scale=scale)
        if scale != "nps"
        else server.add_touchpoint(metric="nps")
    )
    page = opened(themed, host.page("single.html", TOKEN=tp["embed_token"], LANG="en"))
    radios = page.locator("[data-scorelet] [role=radio]")
    eventually(lambda: radios.count() > 0)
    asked = serious(page)
    radios.first.click()
    page.locator("[data-scorelet] textarea").wait_for()
    commenting = serious(page)
    assert (asked, commenting) == ([], [])


def test_the_hosted_page_asking_thanking_and_expired(
    server: LiveServer, themed: BrowserContext
) -> None:
    tp = server.add_touchpoint(scale="stars", question="How did Alice do?")
    with server.client(server.mint_key) as client:
        minted = client.post(
            "/api/v1/tokens", json={"touchpoint": tp["slug"], "subject": f"a11y-{time.time()}"}
        ).json()
    page = opened(themed, minted["rating_url"] + "?score=4")
    assert page.get_by_role("heading", level=1).count() == 1
    asking = serious(page)
    page.get_by_role("button", name="Confirm rating").click()
    page.get_by_role("heading", name="Thank you for your feedback!").wait_for()
    assert page.get_by_role("heading", level=1).count() == 1
    thanked = serious(page)
    page.goto(minted["rating_url"])  # the widget, mounted over the form
    page.locator(".mount [data-scorelet] [role=radio]").first.wait_for()
    assert page.get_by_role("heading", level=1).count() == 1
    mounted = serious(page)
    expired = mint_subject_token(Signer([SECRET]), tp["slug"], "old", ttl=60, now=time.time() - 120)
    page.goto(f"{server.url}/r/{expired.token}")
    assert page.get_by_role("heading", level=1).count() == 1
    assert (asking, thanked, mounted, serious(page)) == ([], [], [], [])


def test_the_demo_page(themed: BrowserContext, tmp_path: Path) -> None:
    with serving(tmp_path / "fresh", {"SCORELET_RATE_LIMIT": "off"}) as (_, url):
        page = opened(themed, url + "/")
        eventually(lambda: page.locator("[data-scorelet] [role=radio]").count() == 5 + 5 + 11)
        assert page.get_by_role("heading", level=1).count() == 1
        assert serious(page) == []
