"""Each scale renders, works by mouse and by keyboard alone, and the score lands in SQLite."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from browser.conftest import Visit, eventually, score, stored
from conftest import LiveServer

pytestmark = pytest.mark.browser

# scale name, metric, its points, the score to give, that option's accessible name
SCALES = [
    ("stars", "csat", range(1, 6), 4, "4 stars"),
    ("smileys", "csat", range(1, 6), 2, "Unsatisfied"),
    ("smileys3", "csat", range(1, 4), 3, "Satisfied"),
    ("nps", "nps", range(0, 11), 9, "9 out of 10"),
    ("numeric:7", "csat", range(1, 8), 6, "6 out of 7"),
]
RADIOS = "[data-scorelet] [role=radio]"


def radio(page: Page, value: int) -> str:
    return f"[data-scorelet] [role=radio][data-score='{value}']"


def focused_score(page: Page) -> str | None:
    """The data-score of the focused radio inside the widget's shadow root."""
    value: str | None = page.evaluate(
        "document.activeElement.shadowRoot?.activeElement?.dataset.score ?? null"
    )
    return value


def recorded(server: LiveServer, slug: str, value: int) -> bool:
    body = score(server, slug)
    return body["responses"] == 1 and body["distribution"][str(value)] == 1


@pytest.mark.parametrize(("scale", "metric", "points", "value", "label"), SCALES)
def test_each_scale_renders_and_a_click_lands_in_the_database(
    server: LiveServer,
    visit: Callable[..., Visit],
    scale: str,
    metric: str,
    points: range,
    value: int,
    label: str,
) -> None:
    tp = server.add_touchpoint(metric=metric, scale=scale)
    visit_ = visit("single.html", TOKEN=tp["embed_token"])
    page = visit_.page
    group = page.locator("[data-scorelet] [role=radiogroup]")
    group.wait_for()
    assert group.get_attribute("aria-labelledby")
    assert page.locator(RADIOS).count() == len(points)
    assert [
        int(v) for v in page.locator(RADIOS).evaluate_all("els => els.map(e => e.dataset.score)")
    ] == list(points)
    assert page.locator(radio(page, value)).get_attribute("aria-label") == label

    page.locator(radio(page, value)).click()

    eventually(lambda: recorded(server, tp["slug"], value))
    assert stored(server, tp["slug"]) == [(value, None)]
    assert page.locator(radio(page, value)).get_attribute("aria-checked") == "true"
    assert page.locator("[data-scorelet] [aria-checked=true]").count() == 1
    eventually(lambda: visit_.events("score"))
    assert visit_.events("score")[0][1]["score"] == value
    assert visit_.errors == []


@pytest.mark.parametrize(("scale", "metric", "points", "value", "label"), SCALES)
def test_each_scale_works_by_keyboard_alone(
    server: LiveServer,
    visit: Callable[..., Visit],
    scale: str,
    metric: str,
    points: range,
    value: int,
    label: str,
) -> None:
    tp = server.add_touchpoint(metric=metric, scale=scale)
    page = visit("single.html", TOKEN=tp["embed_token"]).page
    page.locator(RADIOS).first.wait_for()
    first, last, n = points[0], points[-1], len(points)
    page.focus("#before")

    page.keyboard.press("Tab")
    assert focused_score(page) == str(first)
    page.keyboard.press("End")
    assert focused_score(page) == str(last)
    page.keyboard.press("Home")
    assert focused_score(page) == str(first)
    page.keyboard.press("ArrowLeft")
    assert focused_score(page) == str(last), "arrows wrap around"
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expected = points[2 % n]
    assert focused_score(page) == str(expected)
    assert page.locator("[data-scorelet] [role=radio][tabindex='0']").count() == 1

    page.keyboard.press("Enter")
    eventually(lambda: recorded(server, tp["slug"], expected))

    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    changed = points[3 % n]
    eventually(lambda: recorded(server, tp["slug"], changed))
    assert [s for s, _ in stored(server, tp["slug"])] == [changed], "one response, replaced"


def test_comment_flow_patches_the_response_and_thanks_politely(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(comment_prompt="What could we do better?", thank_you="Merci!")
    visit_ = visit("single.html", TOKEN=tp["embed_token"])
    page = visit_.page
    page.locator(radio(page, 2)).click()
    box = page.locator("[data-scorelet] textarea")
    box.wait_for()
    assert page.locator("[data-scorelet] label").inner_text() == "What could we do better?"

    page.locator(radio(page, 5)).click()
    box.fill("The coupon field was hard to find.")
    page.get_by_role("button", name="Send").click()

    status = page.locator("[data-scorelet] [role=status]")
    eventually(lambda: status.inner_text() == "Merci!")
    assert status.get_attribute("aria-live") == "polite"
    assert page.locator(RADIOS).count() == 0 or not page.locator(RADIOS).first.is_visible()
    eventually(lambda: stored(server, tp["slug"]) == [(5, "The coupon field was hard to find.")])
    assert score(server, tp["slug"])["responses"] == 1
    names = [e[0] for e in visit_.events()]
    assert names.index("score") < names.index("comment") < names.index("done")


def test_skipping_the_comment_keeps_the_score(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(metric="nps")
    visit_ = visit("single.html", TOKEN=tp["embed_token"])
    page = visit_.page
    page.locator(radio(page, 10)).click()
    page.get_by_role("button", name="Skip").click()
    status = page.locator("[data-scorelet] [role=status]")
    eventually(lambda: status.inner_text() == "Thank you for your feedback!")
    assert stored(server, tp["slug"]) == [(10, None)]
    assert visit_.events("done")[0][1]["score"] == 10


@pytest.mark.parametrize(
    ("locale", "lang", "question", "label"),
    [
        ("de", "", "Wie zufrieden sind Sie?", "4 Sterne"),
        (None, "fr", "Êtes-vous satisfait ?", "4 étoiles"),
        ("es-MX", "fr", "¿Qué tan satisfecho está?", "4 estrellas"),
        ("pt-BR", "", "Qual é o seu nível de satisfação?", "4 estrelas"),
        (None, "nl-BE", "Hoe tevreden bent u?", "4 sterren"),
        ("it", "", "Quanto è soddisfatto?", "4 stelle"),
        (None, "it", "Quanto è soddisfatto?", "4 stelle"),
        (None, "ja", "ご満足いただけましたか\uff1f", "星4つ"),
        ("en", "de", "How satisfied are you?", "4 stars"),
        ("ja", "", "ご満足いただけましたか\uff1f", "星4つ"),
        ("zh-CN", "", "您满意吗\uff1f", "4 星"),
    ],
)
def test_the_widget_speaks_the_touchpoint_or_page_language(
    server: LiveServer,
    visit: Callable[..., Visit],
    locale: str | None,
    lang: str,
    question: str,
    label: str,
) -> None:
    tp = server.add_touchpoint(locale=locale) if locale else server.add_touchpoint()
    page = visit("single.html", TOKEN=tp["embed_token"], LANG=lang).page
    page.locator(RADIOS).first.wait_for()
    assert page.locator("[data-scorelet] p").first.inner_text() == question
    assert page.locator(radio(page, 4)).get_attribute("aria-label") == label


def test_touchpoint_texts_override_the_built_in_wording(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(
        metric="nps", locale="de", question="Würden Sie uns weiterempfehlen?", low_label="Nie"
    )
    page = visit("single.html", TOKEN=tp["embed_token"]).page
    page.locator(RADIOS).first.wait_for()
    assert page.locator("[data-scorelet] p").first.inner_text() == "Würden Sie uns weiterempfehlen?"
    ends = page.locator("[data-scorelet] .e span").all_inner_texts()
    assert ends == ["Nie", "Sehr wahrscheinlich"]
