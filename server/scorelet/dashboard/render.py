"""Turning templates into pages: Jinja2 with autoescaping, the strict CSP, compression.

Pages are made on the server from `templates/` with every value escaped
(Jinja2's autoescape). Their one style sheet and one script are read once,
content-hashed and served from memory with `immutable` caching, like the
widget; the page itself allows nothing else (no inline script or style, no
eval). HTML is gzipped for browsers that take it: its CSRF tokens are masked
afresh on every page (sessions.py), so compression gives nothing away.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import Response

from scorelet import __version__
from scorelet.api.embed import accepts_gzip
from scorelet.api.headers import content_security_policy
from scorelet.widget import Asset

HERE = Path(__file__).parent
GZIP_FROM = 1400  # bytes: smaller pages fit one packet anyway


def score(body: dict[str, Any] | None, metric: str | None = None) -> str:
    """A score as people read it: 82.5% for CSAT, +40 for NPS, a dash for none."""
    if body is None or body.get("score") is None:
        return "—"
    value = body["score"]
    if (metric or body.get("metric")) == "csat":
        return f"{value:g}%"
    return f"{value:+g}" if value else "0"


def interval(body: dict[str, Any]) -> str:
    bounds = body["interval"]
    if bounds["low"] is None:
        return "no interval without ratings"
    unit = "%" if body.get("metric") == "csat" else ""
    return f"{bounds['low']:g}{unit} to {bounds['high']:g}{unit}"


def rate(body: dict[str, Any]) -> str:
    value = body.get("response_rate")
    return "—" if value is None else f"{value:g}%"


def delta(change: Any) -> str:
    if change is None:
        return ""
    return f"{change.delta:+g} pts" if change.delta else "±0 pts"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _asset(name: str) -> Asset:
    return Asset.of((HERE / "static" / name).read_text(encoding="utf-8"))


class Renderer:
    def __init__(self, frame_ancestors: str = "'none'") -> None:
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(score=score, interval=interval, rate=rate, delta=delta, when=when)
        self.css = _asset("dashboard.css")
        self.js = _asset("dashboard.js")
        self.env.globals.update(
            css_url=f"/dashboard/static/dashboard.{self.css.tag}.css",
            js_url=f"/dashboard/static/dashboard.{self.js.tag}.js",
            version=__version__,
        )
        self.headers = {
            "Content-Security-Policy": content_security_policy(frame_ancestors),
            "X-Content-Type-Options": "nosniff",
            # Same-origin keeps the Origin header on our own forms (no-referrer would send null).
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
            "Vary": "Accept-Encoding",
        }
        if frame_ancestors.strip() == "'none'":
            self.headers["X-Frame-Options"] = "DENY"

    def html(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = self.html(name, context).encode()
        extra = {**self.headers, **(headers or {})}
        if len(body) >= GZIP_FROM and accepts_gzip(request.headers.get("accept-encoding", "")):
            body = gzip.compress(body, 6)
            extra["Content-Encoding"] = "gzip"
        return Response(body, status, extra, media_type="text/html; charset=utf-8")
