"""When to ask, in real Chromium: identified people, the server's answer, event triggers.

Each "device" is a fresh browser context (its own localStorage), so what keeps
a person from being asked twice is the server, not the browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from browser.conftest import HostPages, Visit, eventually, open_page, score
from conftest import LiveServer

pytestmark = pytest.mark.browser

RADIOS = "[data-scorelet] [role=radio]"
RECORD_SKIPS = """window.__skips = [];
document.addEventListener("scorelet:skip", (e) => window.__skips.push(e.detail));"""


@pytest.fixture
def device(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """A new browser context per call: another device, with storage of its own."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context()
        context.add_init_script(RECORD_SKIPS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def identity(server: LiveServer, person: str, **traits: str) -> str:
    with server.client(server.mint_key) as client:
        minted = client.post("/api/v1/identities", json={"person": person, "traits": traits})
    assert minted.status_code == 201, minted.text
    token: str = minted.json()["identity"]
    return token


def skips(visit: Visit) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = visit.page.evaluate("window.__skips")
    return found


def person(server: LiveServer, person_id: str) -> dict[str, Any]:
    with server.reader() as client:
        response = client.get(f"/api/v1/people/{person_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_person_who_answered_on_one_device_is_not_asked_on_another(
    server: LiveServer, host: HostPages, device: Callable[[], BrowserContext]
) -> None:
    tp = server.add_touchpoint(metric="nps", recontact_days=90)
    token = identity(server, "u-answers", plan="pro")
    url = host.page("identity.html", TOKEN=tp["embed_token"], IDENTITY=token)
    first = open_page(device(), url)
    first.page.locator("[data-scorelet] [data-score='10']").click()
    eventually(lambda: [r["person"] for r in server.ratings(tp["slug"])] == ["u-answers"])
    assert server.ratings(tp["slug"])[0]["context"] == {"plan": "pro"}, "traits are context"

    second = open_page(device(), url)
    eventually(lambda: skips(second))
    (skip,) = skips(second)
    assert skip["touchpoint"] == tp["slug"]
    assert skip["show"] is False
    assert skip["reason"] == "answered_recently"
    assert skip["next_eligible_at"] is not None
    # The sentence behind the reason is one request away, for whoever debugs it.
    with server.client() as client:
        why = client.get(
            "/api/v1/eligibility", params={"token": tp["embed_token"], "identity": token}
        ).json()
    assert (why["reason"], why["next_eligible_at"]) == (skip["reason"], skip["next_eligible_at"])
    assert "recontact" in why["detail"]
    assert second.events("ready")[0][1]["shown"] is False
    assert second.page.locator(RADIOS).count() == 0
    assert first.errors == second.errors == []

    # Someone else on that second device is asked: the answer was the person's, not the browser's.
    other = host.page("identity.html", TOKEN=tp["embed_token"], IDENTITY=identity(server, "u-2"))
    open_page(second.page.context, other).page.locator(RADIOS).first.wait_for()


def test_an_event_triggered_widget_shows_on_the_event_and_not_before(
    server: LiveServer, host: HostPages, device: Callable[[], BrowserContext]
) -> None:
    tp = server.add_touchpoint(trigger="event:ticket_closed")
    token = identity(server, "u-events")
    visit = open_page(device(), host.page("track.html", TOKEN=tp["embed_token"], IDENTITY=token))
    page = visit.page
    # The widget's place is taken once the runtime has the server's answer ...
    page.locator("[data-scorelet]").wait_for(state="attached")
    page.click("#other")
    assert page.locator(RADIOS).count() == 0, "another event doesn't show it"
    assert visit.events("ready") == []
    assert score(server, tp["slug"])["impressions"] == 0
    # ... and it appears on its event.
    page.click("#close")
    page.locator(RADIOS).first.wait_for()
    eventually(lambda: score(server, tp["slug"])["impressions"] == 1)
    assert [e[1]["shown"] for e in visit.events("ready")] == [True]

    # An event tracked before the tag loaded counts too (anonymous here: the browser decides).
    early = open_page(device(), host.page("track.html", TOKEN=tp["embed_token"], early="1"))
    early.page.locator(RADIOS).first.wait_for()
    assert visit.errors == early.errors == []


def test_identify_and_mount_carry_the_identity_into_every_body(
    server: LiveServer, host: HostPages, device: Callable[[], BrowserContext]
) -> None:
    tagged = server.add_touchpoint()
    mounted = server.add_touchpoint()
    token = identity(server, "u-identify")
    context = device()
    bodies: list[dict[str, Any]] = []
    context.on(
        "request",
        lambda r: "/api/v1/" in r.url and r.method == "POST" and bodies.append(r.post_data_json),
    )
    url = host.page(
        "identify.html",
        TOKEN=tagged["embed_token"],
        OTHER=mounted["embed_token"],
        IDENTITY=token,
    )
    visit = open_page(context, url)
    visit.page.locator("#tagged [data-score='4']").click()
    visit.page.locator("#mounted [data-score='2']").click()
    for tp in (tagged, mounted):
        eventually(
            lambda tp=tp: [r["person"] for r in server.ratings(tp["slug"])] == ["u-identify"]
        )
    assert bodies, "the widget posted"
    assert all(body.get("identity") == token for body in bodies), bodies
    history = person(server, "u-identify")
    assert sorted(r["score"] for r in history["responses"]) == [2, 4]
    assert visit.errors == []


def test_a_dismissal_is_kept_for_the_person_and_holds_back_the_next_device(
    server: LiveServer, host: HostPages, device: Callable[[], BrowserContext]
) -> None:
    tp = server.add_touchpoint(redisplay_days=7)
    token = identity(server, "u-dismisses")
    url = host.page("identity.html", TOKEN=tp["embed_token"], IDENTITY=token)
    first = open_page(device(), url)
    first.page.get_by_role("button", name="Close").click()
    assert first.page.locator("[data-scorelet]").count() == 0
    eventually(
        lambda: any(d["kind"] == "dismissed" for d in person(server, "u-dismisses")["displays"])
    )
    second = open_page(device(), url)
    eventually(lambda: skips(second))
    assert skips(second)[0]["reason"] == "dismissed_recently"
    assert score(server, tp["slug"])["responses"] == 0, "a dismissal is no answer"


@pytest.mark.parametrize(
    ("case", "reason"),
    [("anonymous", "identity_required"), ("forged", "bad_token"), ("embed", "bad_token")],
)
def test_a_widget_the_server_says_no_to_renders_nothing_and_says_why(
    server: LiveServer,
    host: HostPages,
    device: Callable[[], BrowserContext],
    case: str,
    reason: str,
) -> None:
    tp = server.add_touchpoint(require_identity=True)
    good = identity(server, "u-refused")
    given = {
        "anonymous": "",
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "embed": tp["embed_token"],
    }[case]
    visit = open_page(device(), host.page("identity.html", TOKEN=tp["embed_token"], IDENTITY=given))
    eventually(lambda: skips(visit))
    assert skips(visit)[0]["reason"] == reason
    assert visit.page.locator(RADIOS).count() == 0
    assert visit.errors == []


def test_an_identity_in_the_tags_url_needs_no_second_loader(
    server: LiveServer, host: HostPages, device: Callable[[], BrowserContext]
) -> None:
    tp = server.add_touchpoint()
    token = identity(server, "u-in-src")
    context = device()
    loaders: list[str] = []
    context.on("request", lambda r: "/s/" in r.url and loaders.append(r.url))
    visit = open_page(
        context, host.page("src-identity.html", TOKEN=tp["embed_token"], IDENTITY=token)
    )
    visit.page.locator("[data-scorelet] [data-score='3']").click()
    eventually(lambda: [r["person"] for r in server.ratings(tp["slug"])] == ["u-in-src"])
    assert len(loaders) == 1, loaders
    assert visit.errors == []
