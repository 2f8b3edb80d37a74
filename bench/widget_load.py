"""Widget: bytes on the wire (gzipped loader + runtime) and time to render in Chromium.

Host pages come from a tiny static server on another origin, as on a
customer's site. Each load gets a fresh browser context (empty cache: a first
visit). For the widget page the time is from navigation start to the
widget's `scorelet:ready` event (fired once its radiogroup is in the DOM),
checked against the shadow root; for the empty page, to its load event.

The identified page carries an identity token (`data-identity`), so the
runtime asks for the loader once more with `?identity=`, and that loader
carries the server's eligibility answer for the person: one request more
than an anonymous page, and the one that makes the decision on the server.
"""

from __future__ import annotations

import contextlib
import re
import statistics
from pathlib import Path
from typing import Any

import harness
from dataset import Dataset

from scorelet.testing import static_site

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
EMPTY_PAGE = (
    "<!doctype html><html><head><title>empty</title></head><body><p>Hello</p></body></html>"
)
WIDGET_PAGE = (
    "<!doctype html><html><head><title>widget</title></head><body><p>Hello</p>"
    '<script src="{src}"{attributes}></script></body></html>'
)
RECORD_READY = """
document.addEventListener("scorelet:ready", () => { window.__ready = performance.now(); });
"""
RENDERED = """() => {
  const host = document.querySelector("[data-scorelet]");
  return !!(window.__ready && host && host.shadowRoot
            && host.shadowRoot.querySelector("[role=radiogroup]"));
}"""
TIMES = """() => ({
  ready: window.__ready ?? null,
  load: performance.getEntriesByType("navigation")[0].loadEventEnd,
})"""


def host_pages(pages: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    """The given pages (name -> HTML) on their own origin."""

    def render(path: str, query: dict[str, str]) -> bytes | None:
        body = pages.get(path.lstrip("/"))
        return body.encode() if body else None

    return static_site(render)


def gzipped_bytes(server: harness.Server, token: str, query: str = "") -> dict[str, int]:
    gz = {"Accept-Encoding": "gzip"}
    status, headers, loader = harness.fetch(f"{server.url}/s/{token}.js{query}", gz)
    if status != 200 or headers.get("content-encoding") != "gzip":
        raise RuntimeError(f"loader: {status} {headers}")
    found = re.search(rb"/widget\.[0-9a-f]+\.js", _gunzip(loader))
    if found is None:
        raise RuntimeError("the loader names no runtime")
    status, headers, runtime = harness.fetch(server.url + found[0].decode(), gz)
    if status != 200 or headers.get("content-encoding") != "gzip":
        raise RuntimeError(f"runtime: {status} {headers}")
    return {"loader": len(loader), "runtime": len(runtime), "total": len(loader) + len(runtime)}


def _gunzip(data: bytes) -> bytes:
    import gzip

    return gzip.decompress(data)


def run(args: Any, work: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from scorelet.mint import mint_identity_token
    from scorelet.tokens import Signer

    dataset = Dataset.create(work / "widget", 1, harness.SECRET)
    token = dataset.touchpoints[0].token
    # A new person per load would be fairer still, but the answer is "eligible" either way.
    identity = mint_identity_token(Signer([harness.SECRET]), "bench-person", ttl="1d").token
    with harness.scorelet(dataset.data_dir, args.sync) as server:
        sizes = gzipped_bytes(server, token)
        personal = gzipped_bytes(server, token, f"?identity={identity}")
        src = f"{server.url}/s/{token}.js"
        pages = {"empty.html": EMPTY_PAGE,
                 "widget.html": WIDGET_PAGE.format(src=src, attributes=""),
                 "identified.html": WIDGET_PAGE.format(
                     src=src, attributes=f' data-identity="{identity}"')}  # fmt: skip
        with host_pages(pages) as origin, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                empty, widget, after_load, identified = [], [], [], []
                for n in range(args.widget_loads + 1):  # the first of each is a warm-up
                    empty_ms = load(browser, f"{origin}/empty.html", False)["load"]
                    times = load(browser, f"{origin}/widget.html", True)
                    person = load(browser, f"{origin}/identified.html", True)
                    if n:
                        empty.append(empty_ms)
                        widget.append(times["ready"])
                        after_load.append(times["ready"] - times["load"])
                        identified.append(person["ready"])
            finally:
                browser.close()
    empty_ms = statistics.median(empty)
    return {
        "gzipped_bytes": sizes,
        "identified_loader_gzipped_bytes": personal["loader"],
        "loads": args.widget_loads,
        "empty_page_load_ms": round(empty_ms, 1),
        "widget_rendered_ms": round(statistics.median(widget), 1),
        "rendered_after_empty_load_ms": round(statistics.median(widget) - empty_ms, 1),
        "rendered_after_own_load_ms": round(statistics.median(after_load), 1),
        "identified_rendered_ms": round(statistics.median(identified), 1),
        "identified_rendered_after_empty_load_ms": round(
            statistics.median(identified) - empty_ms, 1
        ),
    }


def load(browser: Any, url: str, widget: bool) -> dict[str, float]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(RECORD_READY)
        page.goto(url, wait_until="load")
        if widget:
            page.wait_for_function(RENDERED, timeout=10_000)
        times: dict[str, float] = page.evaluate(TIMES)
        return times
    finally:
        context.close()
