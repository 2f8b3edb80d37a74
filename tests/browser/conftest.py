"""Real Chromium against a real Scorelet, with host pages served from another origin.

Host pages live in `pages/`, one per scenario; `{{NAME}}` placeholders are
filled from the query string (and `{{BASE}}` with the Scorelet server's URL),
so each test embeds its own touchpoint's token. The pages come from a tiny
static server on a different port, so every widget request is cross-origin,
as it is on a customer's site.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from conftest import LiveServer
from scorelet.testing import Render, static_site

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PAGES = Path(__file__).parent / "pages"
PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
# Records every scorelet:* event the page sees, before any page script runs.
RECORD_EVENTS = """
window.__events = [];
for (const name of ["ready", "score", "comment", "done", "error"]) {
  document.addEventListener("scorelet:" + name, (e) => window.__events.push([name, e.detail]));
}
"""


def render_page(name: str, values: dict[str, str]) -> bytes:
    text = (PAGES / name).read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: html.escape(values.get(m[1], "")), text).encode()


def host_site(base: str) -> Render:
    """tests/browser/pages, with {{BASE}} the Scorelet server's URL and {{NAME}}s the query's."""

    def render(path: str, query: dict[str, str]) -> bytes | None:
        name = path.lstrip("/")
        if "/" in name or not (PAGES / name).is_file():
            return None
        return render_page(name, {"BASE": base, **query})

    return render


@dataclass(frozen=True)
class HostPages:
    """The host pages, served from their own origin at `url`."""

    url: str

    def page(self, name: str, **values: str) -> str:
        return f"{self.url}/{name}?{urlencode(values)}"


@dataclass
class Visit:
    """A page with what it logged: uncaught errors and console messages."""

    page: Page
    errors: list[str] = field(default_factory=list)
    console: list[ConsoleMessage] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [m.text for m in self.console if m.type == "warning"]

    def events(self, name: str | None = None) -> list[Any]:
        events: list[Any] = self.page.evaluate("window.__events")
        return [e for e in events if name is None or e[0] == name]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium). "
            "The browser tests need it and never skip.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def host(server: LiveServer) -> Iterator[HostPages]:
    with static_site(host_site(server.url)) as url:
        yield HostPages(url)


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One context per module keeps tests fast; tests that need their own storage,
    network or media settings open one with `browser.new_context(...)`."""
    context = browser.new_context()
    yield context
    context.close()


def open_page(context: BrowserContext, url: str) -> Visit:
    page = context.new_page()
    result = Visit(page)
    page.on("pageerror", lambda error: result.errors.append(str(error)))
    page.on("console", lambda message: result.console.append(message))
    page.add_init_script(RECORD_EVENTS)
    page.goto(url)
    return result


@pytest.fixture
def visit(context: BrowserContext, host: HostPages) -> Iterator[Callable[..., Visit]]:
    """Open a host page in a new tab: `visit("single.html", TOKEN=...)`; closed afterwards."""
    pages: list[Page] = []

    def visit_page(name: str, **values: str) -> Visit:
        result = open_page(context, host.page(name, **values))
        pages.append(result.page)
        return result

    yield visit_page
    for page in pages:
        page.close()


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until `check()` is truthy; fail with its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"still {value!r} after {timeout} s"
            return value
        time.sleep(0.05)


def score(server: LiveServer, slug: str) -> dict[str, Any]:
    with server.reader() as client:
        response = client.get(f"/api/v1/touchpoints/{slug}/score")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(server: LiveServer, slug: str) -> list[tuple[int, str | None]]:
    """(score, comment) of every response to `slug`, oldest first, as the API lists them."""
    return [(r["score"], r["comment"]) for r in server.ratings(slug)]


AXE = Path(__file__).parents[2] / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"


def serious(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (its id, where)."""
    assert AXE.exists(), "scripts/test installs axe-core into .cache/npm"
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return list(found)
