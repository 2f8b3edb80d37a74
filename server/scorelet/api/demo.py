"""`GET /`: the demo page on a fresh install, a pointer to the API otherwise."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from scorelet import __version__
from scorelet.api.headers import html_headers
from scorelet.api.scores import score_body
from scorelet.api.services import Services
from scorelet.demo import STYLE_HASH, DemoEntry, demo_rank, is_demo, render_demo, render_home

TITLES = {"stars": "Stars", "smileys": "Smileys", "nps": "0-10 (NPS)"}


class DemoPage:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def home(self, request: Request) -> Response:
        store, settings = self.services.store, self.services.settings
        entries = []
        for touchpoint in sorted(store.touchpoints(), key=lambda tp: demo_rank(tp.slug)):
            if not is_demo(touchpoint.slug) or not touchpoint.active:
                continue
            counts, displays = store.totals(touchpoint.id)
            entries.append(
                DemoEntry(
                    touchpoint.slug,
                    TITLES.get(touchpoint.scale.name, touchpoint.scale.name),
                    self.services.signer.mint_embed(touchpoint.slug, touchpoint.token_version),
                    settings.base_url,
                    score_body(touchpoint, counts, displays),
                )
            )
        page = render_demo(entries, __version__) if entries else render_home(__version__)
        return HTMLResponse(page, headers=html_headers(settings.frame_ancestors, STYLE_HASH))
