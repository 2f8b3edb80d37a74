"""Regenerate the screenshots in this folder: `python docs/screenshots/make.py [widget|dashboard]`.

A real Scorelet (uvicorn in a thread, SQLite in a temporary directory) serves
one touchpoint per scale; Chromium (Debian's /usr/bin/chromium, or
SCORELET_CHROMIUM) renders each widget on a plain host page and the widget's
box is saved as PNG: what a visitor first sees, except that the stars
preview a hover and the five smileys show the comment step after a choice.
The dashboard's overview and a touchpoint page are shot with the demo's 90
days of sample ratings, at 1280 and 360 px wide, in light and dark.
"""

from __future__ import annotations

import asyncio
import html
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.sync_api import Browser, sync_playwright

from scorelet.app import create_app
from scorelet.config import Settings, create_secret
from scorelet.store import Store
from scorelet.testing import free_socket, serve_in_thread, static_site

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("SCORELET_CHROMIUM", "/usr/bin/chromium")
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<style>body{{margin:0;background:{bg}}}#shot{{display:inline-block;padding:20px;width:520px}}</style>
</head><body><div id="shot"><script src="{src}" async></script></div></body></html>"""
# file name, touchpoint fields, colour scheme
Fields = dict[str, Any]
SHOTS: list[tuple[str, Fields, str]] = [
    (
        "stars.png",
        {"metric": "csat", "scale": "stars", "question": "How was checkout today?"},
        "light",
    ),
    (
        "smileys.png",
        {"metric": "csat", "scale": "smileys", "question": "How was your delivery?"},
        "light",
    ),
    (
        "smileys3.png",
        {"metric": "csat", "scale": "smileys3", "question": "Did this article help?"},
        "light",
    ),
    ("nps.png", {"metric": "nps", "scale": "nps"}, "light"),
    ("nps-dark.png", {"metric": "nps", "scale": "nps"}, "dark"),
]
# The stars preview a hover; the smileys show the comment step after a choice.
ACTIONS = {"stars.png": ("hover", 4), "smileys.png": ("click", 4)}
BACKGROUNDS = {"light": "#f3f4f6", "dark": "#030712"}


async def admin_key(database: Path) -> str:
    store = await Store.open(database)
    try:
        return (await store.create_api_key("admin", "screenshots"))[1]
    finally:
        await store.close()


@contextmanager
def scorelet(data_dir: Path) -> Iterator[httpx.Client]:
    """A live server; yields an admin client for it."""
    sock = free_socket()
    settings = Settings(data_dir=data_dir, port=sock.getsockname()[1], rate_limit=False)
    create_secret(data_dir)
    key = asyncio.run(admin_key(settings.database))
    with (
        serve_in_thread(create_app(settings), sock) as url,
        httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}) as client,
    ):
        yield client


def page(path: str, query: dict[str, str]) -> bytes | None:
    """The page a widget sits on, from its own origin: `/?bg=COLOUR&src=LOADER_URL`."""
    if path != "/":
        return None
    return PAGE.format(**{k: html.escape(v) for k, v in query.items()}).encode()


def host_pages() -> AbstractContextManager[str]:
    return static_site(page)


def shoot(browser: Browser, api: httpx.Client, host: str, shot: tuple[str, Fields, str]) -> None:
    name, fields, scheme = shot
    created = api.post("/api/v1/touchpoints", json={"slug": name.split(".")[0], **fields})
    if created.status_code != 201:
        raise SystemExit(f"could not add {name}: {created.text}")
    src = f"{api.base_url}/s/{created.json()['embed_token']}.js"
    context = browser.new_context(color_scheme=scheme, device_scale_factor=2, locale="en-US")
    page = context.new_page()
    page.on("console", lambda message: print(f"  {name}: {message.text}"))
    page.goto(f"{host}/?" + urlencode({"bg": BACKGROUNDS[scheme], "src": src}))
    page.locator("[data-scorelet] [role=radio]").first.wait_for()
    action = ACTIONS.get(name)
    if action:
        option = page.locator(f"[data-scorelet] [data-score='{action[1]}']")
        if action[0] == "hover":
            option.hover()
        else:
            option.click()
            page.locator("[data-scorelet] textarea").wait_for()
            page.mouse.move(0, 0)
    page.locator("#shot").screenshot(path=HERE / name)
    context.close()
    print(f"wrote {HERE / name}")


DASHBOARD_USER, DASHBOARD_PASSWORD = "you@example.com", "screenshots only"
# (file name stem, dashboard path)
DASHBOARD_PAGES = [
    ("dashboard", "/dashboard"),
    ("dashboard-touchpoint", "/dashboard/t/demo-smileys"),
]
WIDTHS = {"": (1280, 1000), "-360": (360, 1400)}


async def demo_data(database: Path) -> None:
    """The demo touchpoints with their 90 days of sample ratings, and an account."""
    from scorelet import demo_history
    from scorelet.accounts import Accounts
    from scorelet.demo import DEMO_TOUCHPOINTS
    from scorelet.touchpoints import new_touchpoint_fields

    store = await Store.open(database)
    try:
        for fields in DEMO_TOUCHPOINTS:
            await store.create_touchpoint(new_touchpoint_fields(fields))
        await store.import_ratings(list(demo_history.ratings(store.touchpoints(), time.time())))
        await Accounts(store, ("unused-for-this-0123456789",)).add(
            DASHBOARD_USER, "viewer", DASHBOARD_PASSWORD
        )
    finally:
        await store.close()


def dashboard_names() -> list[str]:
    """The dashboard's screenshot files, as `shoot_dashboard` names them."""
    return [
        f"{stem}{suffix}{'-dark' if scheme == 'dark' else ''}.png"
        for scheme in ("light", "dark")
        for suffix in WIDTHS
        for stem, _ in DASHBOARD_PAGES
    ]


def names() -> list[str]:
    """Every screenshot this script draws."""
    return [name for name, _, _ in SHOTS] + dashboard_names()


def shoot_dashboard(browser: Browser, base: str) -> None:
    for scheme in ("light", "dark"):
        for suffix, (width, height) in WIDTHS.items():
            context = browser.new_context(
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                timezone_id="Europe/Berlin",
                locale="en-US",
            )
            page = context.new_page()
            page.goto(f"{base}/dashboard/login")
            page.fill("#email", DASHBOARD_USER)
            page.fill("#password", DASHBOARD_PASSWORD)
            page.click("form.stack button[type=submit]")
            page.wait_for_url(f"{base}/dashboard")
            for stem, path in DASHBOARD_PAGES:
                page.goto(base + path)
                name = f"{stem}{suffix}{'-dark' if scheme == 'dark' else ''}.png"
                page.screenshot(path=HERE / name)
                print(f"wrote {HERE / name}")
            context.close()


def main() -> None:
    import sys

    which = sys.argv[1:] or ["widget", "dashboard"]
    with tempfile.TemporaryDirectory() as data:
        if "dashboard" in which:
            asyncio.run(demo_data(Path(data) / "scorelet.sqlite3"))
        with scorelet(Path(data)) as api, host_pages() as host, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            if "widget" in which:
                for shot in SHOTS:
                    shoot(browser, api, host, shot)
            if "dashboard" in which:
                shoot_dashboard(browser, str(api.base_url).rstrip("/"))
            browser.close()


if __name__ == "__main__":
    main()
