"""The demo page at `/` works in a real browser: rate, reload, see the score."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from test_serve import serving

from .conftest import eventually


def test_rating_a_demo_widget_updates_the_page(browser: Browser, tmp_path: Path) -> None:
    with serving(tmp_path / "fresh", {"SCORELET_RATE_LIMIT": "off"}) as (_, url):
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url + "/")
        radios = page.locator("[data-scorelet] [role=radio]")
        eventually(lambda: radios.count() == 5 + 5 + 11)
        stars = page.locator("section", has_text="demo-stars")
        stars.locator("[role=radio][data-score='4']").click()

        def reloaded() -> str:
            page.reload()
            return page.content()

        eventually(lambda: "from 1 rating" in reloaded())
        assert "CSAT 100.0% from 1 rating" in page.content()
        assert errors == []
        context.close()
