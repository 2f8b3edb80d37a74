"""The support-chat example, started as its README says, driven in real Chromium.

Covers the in-chat flow end to end: the backend mints a token when the chat
ends, the page mounts the widget in a 280 px bubble, a click is stored with
the agent from the token, and the agent's score moves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from browser.conftest import eventually
from scorelet.testing import free_socket

pytestmark = pytest.mark.browser
APP = Path(__file__).parents[2] / "examples" / "support-chat" / "app.py"


def free_port() -> int:
    sock = free_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    scorelet, chat = free_port(), free_port()
    data = tmp_path_factory.mktemp("chat-example")
    command = [sys.executable, str(APP), "--port", str(scorelet), "--chat-port", str(chat)]
    process = subprocess.Popen([*command, "--data", str(data)], stdout=subprocess.DEVNULL)
    urls = (f"http://127.0.0.1:{scorelet}", f"http://127.0.0.1:{chat}")
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the example exited"
            try:
                if httpx.get(urls[1] + "/stats", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the example did not start"
            time.sleep(0.1)
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_ending_the_chat_mounts_the_widget_in_a_280px_bubble(
    example: tuple[str, str], browser: Browser
) -> None:
    _, chat_url = example
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(chat_url)
        page.select_option("#agent", "carol")
        page.get_by_role("button", name="End chat").click()
        star = page.locator(".rating [data-scorelet] [role=radio][data-score='5']")
        star.wait_for()
        widths = page.evaluate(
            """() => {
              const bubble = document.querySelector('.rating');
              const host = bubble.querySelector('[data-scorelet]');
              const inner = host.shadowRoot.querySelector('.w');
              return [bubble.getBoundingClientRect().width, inner.scrollWidth, inner.clientWidth];
            }"""
        )
        assert widths[0] == 280
        assert widths[1] <= widths[2]  # nothing spills out of the bubble
        star.click()
        eventually(lambda: "1" in page.locator("#stats").inner_text())
        row = page.locator("#stats tr", has_text="carol").inner_text()
        assert "100" in row
        assert errors == []
    finally:
        context.close()
