"""How the widget behaves over time: impressions, cooldown, a flaky network, dark mode, 320 px."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext

from browser.conftest import HostPages, Visit, eventually, open_page, score, stored
from conftest import LiveServer

pytestmark = pytest.mark.browser

RADIOS = "[data-scorelet] [role=radio]"
CONTRAST = """e => {
  const rgb = (s) => s.match(/\\d+/g).slice(0, 3).map(Number).map((c) => {
    c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  const lum = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const box = e.closest(".w"), s = getComputedStyle(e), f = lum(rgb(s.color));
  const own = s.backgroundColor, b = lum(rgb(own.startsWith("rgba(0, 0, 0, 0")
    ? getComputedStyle(box).backgroundColor : own));
  return (Math.max(f, b) + 0.05) / (Math.min(f, b) + 0.05);
}"""


@pytest.fixture
def own_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        contexts.append(browser.new_context(**options))  # type: ignore[arg-type]
        return contexts[-1]

    yield make
    for context in contexts:
        context.close()


def test_an_impression_counts_once_when_the_widget_scrolls_into_view(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint()
    page = visit("below.html", TOKEN=tp["embed_token"]).page
    page.locator(RADIOS).first.wait_for(state="attached")
    page.wait_for_timeout(300)
    assert score(server, tp["slug"])["impressions"] == 0, "not on screen yet"
    page.locator(RADIOS).first.scroll_into_view_if_needed()
    eventually(lambda: score(server, tp["slug"])["impressions"] == 1)
    page.mouse.wheel(0, -3000)
    page.locator(RADIOS).first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    assert score(server, tp["slug"])["impressions"] == 1


def test_cooldown_keeps_the_same_browser_from_being_asked_again(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(cooldown_days=30)
    context = own_context()
    first = open_page(context, host.page("single.html", TOKEN=tp["embed_token"]))
    first.page.locator("[data-scorelet] [data-score='5']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(5, None)])
    second = open_page(context, host.page("single.html", TOKEN=tp["embed_token"]))
    eventually(lambda: second.events("ready"))
    assert second.events("ready")[0][1] == {
        "touchpoint": tp["slug"],
        "shown": False,
        "reason": "cooldown",
    }
    assert second.page.locator(RADIOS).count() == 0
    elsewhere = open_page(own_context(), host.page("single.html", TOKEN=tp["embed_token"]))
    elsewhere.page.locator(RADIOS).first.wait_for()


def test_offline_shows_a_retry_that_sends_the_kept_choice_once_online(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(metric="nps")
    context = own_context()
    visit_ = open_page(context, host.page("single.html", TOKEN=tp["embed_token"]))
    page = visit_.page
    page.locator(RADIOS).first.wait_for()
    context.set_offline(True)
    page.locator("[data-scorelet] [data-score='6']").click()
    retry = page.get_by_role("button", name="Try again")
    retry.wait_for()
    status = page.locator("[data-scorelet] [role=status]")
    assert status.inner_text() == "Your rating couldn't be sent."
    assert visit_.events("error")[0][1]["code"] == "network_error"
    assert page.locator("[data-scorelet] [data-score='6']").get_attribute("aria-checked") == "true"
    assert stored(server, tp["slug"]) == []

    context.set_offline(False)
    retry.click()
    eventually(lambda: stored(server, tp["slug"]) == [(6, None)])
    assert retry.is_hidden()
    assert visit_.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colours_follow_the_colour_scheme_with_aa_contrast(
    server: LiveServer,
    host: HostPages,
    own_context: Callable[..., BrowserContext],
    scheme: str,
) -> None:
    tp = server.add_touchpoint(metric="nps")
    context = own_context(color_scheme=scheme)
    page = open_page(context, host.page("single.html", TOKEN=tp["embed_token"])).page
    question = page.locator("[data-scorelet] p").first
    question.wait_for()
    background = page.locator("[data-scorelet] .w").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(17, 24, 39)")
    assert question.evaluate(CONTRAST) >= 4.5
    assert page.locator("[data-scorelet] .e span").first.evaluate(CONTRAST) >= 4.5
    page.locator("[data-scorelet] [data-score='9']").click()
    assert page.locator("[data-scorelet] [data-score='9']").evaluate(CONTRAST) >= 4.5


def test_at_320_px_the_0_to_10_scale_wraps_without_overflow(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(metric="nps")
    context = own_context(viewport={"width": 320, "height": 640})
    page = open_page(context, host.page("single.html", TOKEN=tp["embed_token"])).page
    page.locator(RADIOS).first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    widget = page.locator("[data-scorelet] .w")
    assert widget.evaluate("e => e.scrollWidth <= e.clientWidth")
    zero = page.locator("[data-scorelet] [data-score='0']").bounding_box()
    ten = page.locator("[data-scorelet] [data-score='10']").bounding_box()
    assert zero
    assert ten
    assert ten["y"] > zero["y"], "the eleven buttons wrap onto a second row"
    for value in range(11):
        box = page.locator(f"[data-scorelet] [data-score='{value}']").bounding_box()
        assert box
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 320
        assert box["width"] >= 24
