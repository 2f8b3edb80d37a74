"""How the widget behaves over time: impressions, cooldown, a flaky network, dark mode, 320 px."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from browser.conftest import HostPages, Visit, eventually, open_page, score, stored
from conftest import LiveServer

pytestmark = pytest.mark.browser

RADIOS = "[data-scorelet] [role=radio]"


def frames(page: Page, count: int = 3) -> None:
    """Wait for `count` rendered frames: IntersectionObserver answers within the next one."""
    page.evaluate(
        "n => new Promise(done => { const f = k => k ? requestAnimationFrame(() => f(k - 1))"
        " : done(); f(n); })",
        count,
    )


BLOCK_STORAGE = """Object.defineProperty(window, "localStorage", {
  get() { throw new DOMException("blocked", "SecurityError"); } });"""
RECORD_DISMISS = """document.addEventListener("scorelet:dismiss",
  (e) => window.__events.push(["dismiss", e.detail]));"""
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


def test_a_japanese_browser_gets_japanese_unless_the_page_or_tag_says_otherwise(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint()
    context = own_context(locale="ja-JP")
    loaders: list[str] = []
    context.on("request", lambda r: "/s/" in r.url and loaders.append(r.url))
    question = "[data-scorelet] p"
    # The loader carries one language: a page whose lang the server couldn't know asks again.
    cases = [
        ("single.html", {}, "ご満足いただけましたか\uff1f", 1),
        ("single.html", {"LANG": "en"}, "How satisfied are you?", 2),
        ("locale.html", {"LANG": "en", "LOCALE": "zh"}, "您满意吗\uff1f", 2),
    ]
    for page_name, values, expected, requests in cases:
        loaders.clear()
        visit_ = open_page(context, host.page(page_name, TOKEN=tp["embed_token"], **values))
        visit_.page.locator(question).first.wait_for()
        assert visit_.page.locator(question).first.inner_text() == expected
        assert len(loaders) == requests, loaders
        assert visit_.errors == []


def test_an_impression_counts_once_when_the_widget_scrolls_into_view(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint()
    visited = visit("below.html", TOKEN=tp["embed_token"])
    page = visited.page
    sent: list[str] = []
    page.on("request", lambda r: r.url.endswith("/api/v1/impressions") and sent.append(r.url))
    page.locator(RADIOS).first.wait_for(state="attached")
    frames(page)  # the widget's visibility observer has had its first answer
    assert sent == [], "not on screen yet"
    assert score(server, tp["slug"])["impressions"] == 0
    page.locator(RADIOS).first.scroll_into_view_if_needed()
    eventually(lambda: score(server, tp["slug"])["impressions"] == 1)
    page.mouse.wheel(0, -3000)
    frames(page)
    page.locator(RADIOS).first.scroll_into_view_if_needed()
    frames(page)  # seen again: the observer has answered, and sent nothing more
    assert len(sent) == 1
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


def test_rating_again_after_a_reload_replaces_the_first_rating(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(cooldown_days=0)
    page = open_page(own_context(), host.page("single.html", TOKEN=tp["embed_token"])).page
    page.locator("[data-scorelet] [data-score='2']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(2, None)])
    assert page.get_by_role("button", name="Close").count() == 0, "no close button unasked"

    page.reload()
    page.locator("[data-scorelet] [data-score='5']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(5, None)])
    assert score(server, tp["slug"])["responses"] == 1
    client = page.evaluate("localStorage.getItem('scorelet:client')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", client)


def test_without_storage_or_with_a_subject_token_no_client_id_is_sent(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(cooldown_days=30)
    context = own_context()
    context.add_init_script(BLOCK_STORAGE)
    bodies: list[dict[str, object]] = []
    context.on(
        "request",
        lambda r: r.url.endswith("/api/v1/responses") and bodies.append(r.post_data_json),
    )
    blocked = open_page(context, host.page("single.html", TOKEN=tp["embed_token"]))
    blocked.page.locator("[data-scorelet] [data-score='4']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(4, None)])
    assert blocked.errors == []

    with server.client(server.mint_key) as client:
        minted = client.post("/api/v1/tokens", json={"touchpoint": tp["slug"], "subject": "c-1"})
    assert minted.status_code == 201, minted.text
    chat = open_page(context, host.page("mount.html", TOKEN=minted.json()["token"]))
    chat.page.locator("#rate [data-score='3']").click()
    eventually(lambda: sorted(stored(server, tp["slug"])) == [(3, None), (4, None)])
    assert len(bodies) == 2
    assert all("client" not in body for body in bodies), bodies


def test_the_close_button_dismisses_and_starts_the_cooldown(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(cooldown_days=7)
    context = own_context()
    url = host.page("dismissible.html", TOKEN=tp["embed_token"])
    visit_ = open_page(context, url)
    page = visit_.page
    page.locator(RADIOS).first.wait_for()
    page.evaluate(RECORD_DISMISS)
    page.focus("h1")
    for _ in range(2):
        page.keyboard.press("Tab")
    close = page.get_by_role("button", name="Close")
    assert close.evaluate("e => e.getRootNode().activeElement === e"), "after the scale"
    page.keyboard.press("Enter")
    assert page.locator("[data-scorelet]").count() == 0
    assert page.locator("#after").is_visible()
    dismissed = visit_.events("dismiss")
    assert len(dismissed) == 1
    assert dismissed[0][1]["touchpoint"] == tp["slug"]
    assert dismissed[0][1]["score"] is None

    again = open_page(context, url)
    eventually(lambda: again.events("ready"))
    assert again.events("ready")[0][1]["shown"] is False
    assert again.page.locator(RADIOS).count() == 0
    assert stored(server, tp["slug"]) == []


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


def test_the_follow_up_question_fits_the_score_chosen(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(scale="stars", cooldown_days=0)
    nps = server.add_touchpoint(
        metric="nps", locale="de", comment_prompts={"promoter": "Was war am besten?"}
    )
    page = open_page(own_context(), host.page("single.html", TOKEN=tp["embed_token"])).page
    label = page.locator("[data-scorelet] label")
    page.locator("[data-scorelet] [data-score='5']").click()
    assert label.inner_text() == "What did you like most?"
    page.locator("[data-scorelet] [data-score='3']").click()
    assert label.inner_text() == "What would have made it even better?"
    page.locator("[data-scorelet] [data-score='1']").click()
    assert label.inner_text() == "What could we have done better?"
    page = open_page(own_context(), host.page("single.html", TOKEN=nps["embed_token"])).page
    page.locator("[data-scorelet] [data-score='6']").click()
    assert (
        page.locator("[data-scorelet] label").inner_text() == "Was hätten wir besser machen können?"
    )
    page.locator("[data-scorelet] [data-score='10']").click()
    assert page.locator("[data-scorelet] label").inner_text() == "Was war am besten?"


def test_a_rating_from_the_widget_counts_toward_the_response_rate(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(cooldown_days=0)
    page = open_page(own_context(), host.page("single.html", TOKEN=tp["embed_token"])).page
    eventually(lambda: score(server, tp["slug"])["impressions"] == 1)
    page.locator("[data-scorelet] [data-score='5']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(5, None)])
    with server.client() as client:  # the same touchpoint rated by the API: no display
        client.post("/api/v1/responses", json={"token": tp["embed_token"], "score": 2})
    body = score(server, tp["slug"])
    assert (body["responses"], body["impressions"], body["response_rate"]) == (2, 1, 100.0)


def test_the_failure_message_and_retry_have_room_to_breathe(
    server: LiveServer, host: HostPages, own_context: Callable[..., BrowserContext]
) -> None:
    tp = server.add_touchpoint(scale="stars")
    context = own_context()
    page = open_page(context, host.page("single.html", TOKEN=tp["embed_token"])).page
    page.locator(RADIOS).first.wait_for()
    context.set_offline(True)
    page.locator("[data-scorelet] [data-score='2']").click()
    retry = page.get_by_role("button", name="Try again")
    retry.wait_for()
    status = page.locator("[data-scorelet] [role=status]").bounding_box()
    skip = page.get_by_role("button", name="Skip").bounding_box()
    again = retry.bounding_box()
    assert status
    assert skip
    assert again
    assert status["y"] - (skip["y"] + skip["height"]) >= 12, "not jammed under the buttons"
    assert again["y"] - (status["y"] + status["height"]) >= 8, "nor the retry under the text"
