"""The demo page at `/` works in a real browser: rate, and see the score change."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage

from test_serve import serving

from .conftest import eventually


def test_rating_a_demo_widget_updates_its_score_without_a_reload(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(tmp_path / "fresh", {"SCORELET_RATE_LIMIT": "off"}) as (_, url):
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        console: list[ConsoleMessage] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: console.append(message))
        failed: list[str] = []
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.goto(url + "/")
        radios = page.locator("[data-scorelet] [role=radio]")
        eventually(lambda: radios.count() == 5 + 5 + 11)
        stars = page.locator("section", has_text="demo-stars")
        line = stars.locator("p.score")
        assert line.inner_text() == "No ratings yet: try it."
        stars.locator("[role=radio][data-score='4']").click()
        eventually(lambda: "from 1 rating" in line.inner_text())
        assert line.inner_text().startswith("CSAT 100.0% from 1 rating")
        smileys = page.locator("section", has_text="demo-smileys").locator("p.score")
        assert smileys.inner_text() == "No ratings yet: try it."
        page.reload()
        assert "CSAT 100.0% from 1 rating" in page.content()
        assert errors == []
        assert failed == [], "nothing the page asks for is missing (favicon.ico included)"
        assert [m.text for m in console if m.type == "error"] == []
        context.close()
