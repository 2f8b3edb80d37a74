"""Where the widget goes and what it survives: several tags, mount, hostile CSS, CSP, bad tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from browser.conftest import HostPages, Visit, eventually, score, stored
from conftest import LiveServer

pytestmark = pytest.mark.browser

RADIOS = "[data-scorelet] [role=radio]"


def test_two_tags_render_two_independent_widgets(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    stars = server.add_touchpoint(scale="stars")
    nps = server.add_touchpoint(metric="nps")
    page = visit("two.html", TOKEN=stars["embed_token"], TOKEN2=nps["embed_token"]).page
    page.locator("#second [data-scorelet] [role=radio]").first.wait_for()
    assert page.locator("#first [data-scorelet] [role=radio]").count() == 5
    assert page.locator("#second [data-scorelet] [role=radio]").count() == 11
    page.locator("#first [data-score='3']").click()
    page.locator("#second [data-score='8']").click()
    eventually(lambda: stored(server, stars["slug"]) == [(3, None)])
    eventually(lambda: stored(server, nps["slug"]) == [(8, None)])
    assert page.locator("script[src*='/widget.']").count() == 1, "the runtime loads once"


def test_data_target_renders_into_the_named_element(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint()
    page = visit("target.html", TOKEN=tp["embed_token"]).page
    page.locator("#slot [data-scorelet] [role=radio]").first.wait_for()
    assert page.locator("[data-scorelet]").count() == 1
    assert page.locator("head [data-scorelet]").count() == 0


def test_mount_queued_before_the_runtime_loads_then_unmount(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(metric="nps")
    visit_ = visit("mount.html", TOKEN=tp["embed_token"])
    page = visit_.page
    page.locator("#rate [data-scorelet] [role=radio]").first.wait_for()
    assert page.evaluate("typeof Scorelet.mount") == "function"
    page.locator("#rate [data-score='7']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(7, None)])

    page.evaluate("Scorelet.unmount(document.getElementById('rate'))")
    assert page.locator("#rate [data-scorelet]").count() == 0
    loaders: list[str] = []
    page.on("request", lambda r: "/s/" in r.url and loaders.append(r.url))
    options = f"{{token: {tp['embed_token']!r}, locale: 'fr', dismissible: true}}"
    page.evaluate(f"Scorelet.mount('#rate', {options})")
    page.locator("#rate [data-scorelet] [role=radio]").first.wait_for()
    assert page.locator("#rate [data-scorelet]").count() == 1
    assert page.locator("[data-score='9']").get_attribute("aria-label") == "9 sur 10"
    page.get_by_role("button", name="Fermer").click()
    assert page.locator("#rate [data-scorelet]").count() == 0
    assert len(loaders) == 1, "mount asks for French up front: one request"
    assert visit_.errors == []


def test_hostile_host_css_cannot_break_it_and_it_leaks_nothing(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(scale="smileys")
    page = visit("hostile.html", TOKEN=tp["embed_token"]).page
    option = page.locator("[data-scorelet] [data-score='4']")
    option.wait_for()
    assert option.is_visible()
    box = option.bounding_box()
    assert box
    assert box["width"] >= 24
    assert box["height"] >= 24
    font_size = page.locator("[data-scorelet] p").first.evaluate(
        "e => getComputedStyle(e).fontSize"
    )
    assert font_size == "15px"
    option.click()
    eventually(lambda: stored(server, tp["slug"]) == [(4, None)])
    assert page.locator("#own").evaluate("e => getComputedStyle(e).color") == "rgb(1, 2, 3)"


def test_a_strict_csp_page_still_gets_a_styled_working_widget(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(scale="stars")
    visit_ = visit("csp.html", TOKEN=tp["embed_token"])
    page = visit_.page
    star = page.locator("[data-scorelet] [data-score='5']")
    star.wait_for()
    width = star.locator("svg").evaluate("e => getComputedStyle(e).width")
    assert width == "32px", "the shadow style sheet applied"
    star.click()
    eventually(lambda: stored(server, tp["slug"]) == [(5, None)])
    page.locator("[data-scorelet] textarea").fill("fine")
    page.get_by_role("button", name="Send").click()
    eventually(lambda: stored(server, tp["slug"]) == [(5, "fine")])
    violations = [m.text for m in visit_.console if "Content Security Policy" in m.text]
    assert violations == []
    assert visit_.errors == []


def test_a_forged_token_renders_nothing_warns_once_and_the_page_goes_on(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint()
    forged = tp["embed_token"][:-4] + ("AAAA" if not tp["embed_token"].endswith("AAAA") else "BBBB")
    visit_ = visit("forged.html", TOKEN=forged)
    page = visit_.page
    eventually(lambda: page.locator("#after").inner_text() == "page script ran")
    eventually(lambda: visit_.warnings())
    assert len(visit_.warnings()) == 1
    assert "Scorelet" in visit_.warnings()[0]
    assert page.locator("[data-scorelet]").count() == 0
    assert page.locator("#spot").inner_text() == ""
    assert visit_.errors == []


def test_on_an_origin_the_touchpoint_does_not_list_nothing_renders_and_one_warning_says_why(
    server: LiveServer, host: HostPages, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(origins=["https://shop.example.com"])
    with server.client(server.mint_key) as client:
        minted = client.post("/api/v1/tokens", json={"touchpoint": tp["slug"], "subject": "c-9"})
    seen = visit("two.html", TOKEN=tp["embed_token"], TOKEN2=tp["embed_token"])
    eventually(lambda: seen.warnings())
    mounted = visit("mount.html", TOKEN=minted.json()["token"])
    eventually(lambda: mounted.warnings())
    command = (
        f"scorelet touchpoint update {tp['slug']} --origin https://shop.example.com"
        f" --origin {host.url}"
    )
    for page in (seen, mounted):
        (warning,) = page.warnings()  # once, however many tags
        assert warning.startswith(f"Scorelet: {host.url} may not use the touchpoint {tp['slug']}")
        assert warning.endswith(f"To allow it: {command}")
        assert page.page.locator("[data-scorelet]").count() == 0
        assert page.errors == []
    assert stored(server, tp["slug"]) == []
    assert score(server, tp["slug"])["impressions"] == 0, "not shown, so not counted"


def test_an_allowed_origin_renders_as_before(
    server: LiveServer, host: HostPages, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(origins=["https://shop.example.com", host.url])
    page = visit("single.html", TOKEN=tp["embed_token"])
    page.page.locator(RADIOS).first.wait_for()
    page.page.locator("[data-scorelet] [data-score='4']").click()
    eventually(lambda: stored(server, tp["slug"]) == [(4, None)])
    assert page.warnings() == []
