"""The page at `/`: live demo widgets on a fresh install, a short pointer otherwise.

On its first start `scorelet serve` adds three demo touchpoints (stars,
smileys, NPS) so a new user sees the widget working before writing any
code. The page shows each widget live, its current score, and the script
tag to copy. Everything is built as escaped strings; the only style is one
inline sheet allowed by its hash in the page's Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scorelet.views import TouchpointScore

DEMO_PREFIX = "demo-"
DEMO_TOUCHPOINTS: tuple[dict[str, Any], ...] = (
    {
        "slug": "demo-stars",
        "metric": "csat",
        "scale": "stars",
        "question": "How was your visit today?",
        "comment_prompt": "Anything we could do better?",
    },
    {
        "slug": "demo-smileys",
        "metric": "csat",
        "scale": "smileys",
        "question": "How do you feel about our support?",
    },
    {"slug": "demo-nps", "metric": "nps"},
)

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:46rem;margin:0 auto;padding:2rem 1rem}
h1{font-size:1.6rem;margin:0 0 .25rem}
section{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:1.25rem;
margin:1.25rem 0}
h2{font-size:1.1rem;margin:0 0 .75rem}
.score{color:#57606a;margin:.75rem 0}
pre{background:#f6f8fa;border-radius:8px;padding:.75rem;font-size:.8rem;white-space:pre-wrap;
word-break:break-all}
code{font-family:ui-monospace,monospace}
@media (prefers-color-scheme:dark){
body{color:#e6edf3;background:#0d1117}section{background:#161b22;border-color:#30363d}
.score{color:#8b949e}pre{background:#0d1117}}
""".strip()
STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"


@dataclass(frozen=True, slots=True)
class DemoEntry:
    slug: str
    title: str
    token: str
    base_url: str
    score: TouchpointScore

    def tag(self, base: str) -> str:
        return f'<script src="{escape(base)}/s/{escape(self.token)}.js" async></script>'


DEMO_ORDER = [fields["slug"] for fields in DEMO_TOUCHPOINTS]


def is_demo(slug: str) -> bool:
    return slug.startswith(DEMO_PREFIX)


def demo_rank(slug: str) -> int:
    """Stars first, then smileys, then NPS; other demo-* touchpoints after them."""
    return DEMO_ORDER.index(slug) if slug in DEMO_ORDER else len(DEMO_ORDER)


def _score_line(score: TouchpointScore) -> str:
    if score["score"] is None:
        return "No ratings yet: try it."
    unit = "%" if score["metric"] == "csat" else ""
    interval = score["interval"]
    return (
        f"{score['metric'].upper()} {score['score']}{unit} from {score['responses']}"
        f" rating{'s' if score['responses'] != 1 else ''}"
        f" (95% interval {interval['low']} to {interval['high']})."
    )


def score_lines(entries: Sequence[DemoEntry]) -> dict[str, str]:
    """What `/demo/scores` answers: each demo's score line, for the page to update live."""
    return {entry.slug: _score_line(entry.score) for entry in entries}


# The page's one script: after a rating is stored, show the new score without a reload.
SCRIPT = """
document.addEventListener("scorelet:score", function () {
  fetch("/demo/scores", {cache: "no-store"}).then(function (r) { return r.json(); })
    .then(function (lines) {
      document.querySelectorAll("p.score[data-slug]").forEach(function (p) {
        var line = lines[p.getAttribute("data-slug")];
        if (line) p.textContent = line;
      });
    }).catch(function () {});
});
""".lstrip()


def _page(title: str, body: str, script: bool = False) -> str:
    tag = "<script src=/demo.js defer></script>" if script else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style>{tag}</head>"
        f"<body><main>{body}</main></body></html>"
    )


def render_demo(entries: Sequence[DemoEntry], version: str) -> str:
    sections = "".join(
        f"<section><h2>{escape(entry.title)} <code>{escape(entry.slug)}</code></h2>"
        f"{entry.tag('')}"  # same origin, whatever host the page was opened on
        f'<p class=score data-slug="{escape(entry.slug)}" aria-live=polite>'
        f"{escape(_score_line(entry.score))}</p>"
        f"<pre><code>{escape(entry.tag(entry.base_url))}</code></pre></section>"
        for entry in entries
    )
    intro = (
        f"<h1>Scorelet {escape(version)}</h1>"
        "<p>Three demo touchpoints, live: rate them here, then paste a script tag like"
        " these into your own pages. Make your own with"
        " <code>scorelet touchpoint add SLUG --metric csat</code> and print its tag with"
        " <code>scorelet embed SLUG</code>. Remove the demos with"
        " <code>scorelet touchpoint remove demo-stars --yes</code> (and the others).</p>"
    )
    return _page("Scorelet demo", intro + sections, script=True)


def render_home(version: str) -> str:
    return _page(
        "Scorelet",
        f"<h1>Scorelet {escape(version)}</h1><p>Scorelet is running. The API is described"
        " at <a href=/openapi.json>/openapi.json</a>; health is at"
        " <a href=/healthz>/healthz</a>.</p>",
    )
