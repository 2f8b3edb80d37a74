"""`Scorelet.mount(bubble, {token})` in a chat: compact, and aware of an earlier rating."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from browser.conftest import Visit, eventually
from conftest import LiveServer

pytestmark = pytest.mark.browser
BUBBLE = "#rate { width: 280px; }"
RADIO = "#rate [data-scorelet] [role=radio]"


def minted(server: LiveServer, slug: str, subject: str, **context: str) -> str:
    with server.client(server.mint_key) as client:
        response = client.post(
            "/api/v1/tokens", json={"touchpoint": slug, "subject": subject, "context": context}
        )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def rows(server: LiveServer, slug: str) -> list[tuple[Any, ...]]:
    return [(r["id"], r["score"], r["comment"]) for r in server.ratings(slug)]


def in_bubble(visit: Callable[..., Visit], token: str) -> Visit:
    chat = visit("mount.html", TOKEN=token)
    chat.page.add_style_tag(content=BUBBLE)
    chat.page.locator(RADIO).first.wait_for()
    return chat


def checked(chat: Visit) -> list[str]:
    found: list[str] = chat.page.locator(RADIO).evaluate_all(
        "els => els.filter(e => e.getAttribute('aria-checked') == 'true').map(e => e.dataset.score)"
    )
    return found


@pytest.mark.parametrize(
    ("metric", "scale"),
    [("csat", "stars"), ("csat", "smileys"), ("nps", "nps"), ("csat", "numeric:10")],
)
def test_every_scale_fits_a_280px_bubble(
    server: LiveServer, visit: Callable[..., Visit], metric: str, scale: str
) -> None:
    tp = server.add_touchpoint(metric=metric, scale=scale)
    chat = in_bubble(visit, minted(server, tp["slug"], f"conv-{scale}"))
    fit = chat.page.evaluate(
        """() => {
          const bubble = document.querySelector('#rate').getBoundingClientRect();
          const host = document.querySelector('#rate [data-scorelet]');
          const inner = host.shadowRoot.querySelector('.w');
          const radios = [...host.shadowRoot.querySelectorAll('[role=radio]')];
          return {
            width: bubble.width,
            spill: inner.scrollWidth - inner.clientWidth,
            outside: radios.filter(r => {
              const b = r.getBoundingClientRect();
              return b.left < bubble.left || b.right > bubble.right || b.width < 24;
            }).length,
          };
        }"""
    )
    assert fit == {"width": 280, "spill": 0, "outside": 0}
    assert chat.errors == []


def test_an_earlier_rating_shows_and_can_be_changed(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = minted(server, tp["slug"], "conv-again", agent="alice")
    with server.client() as client:
        first = client.post(
            "/api/v1/responses", json={"token": token, "score": 2, "comment": "meh"}
        )
    assert first.status_code == 201
    chat = in_bubble(visit, token)
    eventually(lambda: checked(chat) == ["2"])
    chat.page.locator(f"{RADIO}[data-score='4']").click()
    eventually(lambda: rows(server, tp["slug"]) == [(first.json()["id"], 4, "meh")])
    comment = chat.page.locator("#rate [data-scorelet] textarea")
    assert comment.input_value() == "meh"
    comment.fill("better than I first thought")
    chat.page.locator("#rate [data-scorelet] button.p", has_text="Send").click()
    eventually(
        lambda: rows(server, tp["slug"]) == [(first.json()["id"], 4, "better than I first thought")]
    )
    assert chat.errors == []
    assert [e[1]["status"] for e in chat.events("error")] == []


def test_an_unrated_conversation_starts_empty(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(scale="stars")
    chat = in_bubble(visit, minted(server, tp["slug"], "conv-new"))
    eventually(lambda: chat.events("ready"))
    chat.page.wait_for_load_state("networkidle")
    assert checked(chat) == []
    assert rows(server, tp["slug"]) == []


def test_a_second_widget_for_a_rated_conversation_comments_on_the_same_rating(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    """Two tabs on one conversation: the later one's score and comment land on one rating."""
    tp = server.add_touchpoint(scale="stars")
    token = minted(server, tp["slug"], "conv-two-tabs")
    first, second = in_bubble(visit, token), in_bubble(visit, token)
    first.page.locator(f"{RADIO}[data-score='5']").click()
    eventually(lambda: [r[1] for r in rows(server, tp["slug"])] == [5])
    second.page.locator(f"{RADIO}[data-score='3']").click()
    eventually(lambda: [r[1] for r in rows(server, tp["slug"])] == [3])
    second.page.locator("#rate [data-scorelet] textarea").fill("second thoughts")
    second.page.locator("#rate [data-scorelet] button.p", has_text="Send").click()
    eventually(lambda: [r[1:] for r in rows(server, tp["slug"])] == [(3, "second thoughts")])
    assert [e[1]["status"] for e in second.events("error")] == []


def test_a_mount_context_never_rides_along_with_a_subject_token(
    server: LiveServer, visit: Callable[..., Visit]
) -> None:
    tp = server.add_touchpoint(scale="stars")
    token = minted(server, tp["slug"], "conv-context", agent="alice")
    chat = in_bubble(visit, token)
    chat.page.evaluate(
        "t => Scorelet.mount(document.getElementById('rate'), {token: t, context: {team: 'x'}})",
        token,
    )
    chat.page.locator(f"{RADIO}[data-score='4']").click()
    eventually(lambda: [r[1] for r in rows(server, tp["slug"])] == [4])
    with server.reader() as reader:
        stored = reader.get(f"/api/v1/responses/{rows(server, tp['slug'])[0][0]}").json()
    assert stored["context"] == {"agent": "alice"}
    assert [e[1]["status"] for e in chat.events("error")] == []
