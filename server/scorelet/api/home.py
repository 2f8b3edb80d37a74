"""`GET /`: the demo page on a fresh install, a pointer to the API otherwise."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from scorelet import __version__
from scorelet.api.embed import serve
from scorelet.api.headers import html_headers
from scorelet.api.services import Services
from scorelet.demo import SCRIPT as SCRIPT_SOURCE
from scorelet.demo import (
    STYLE_HASH,
    DemoEntry,
    demo_rank,
    is_demo,
    render_demo,
    render_home,
    score_lines,
)
from scorelet.widget import Asset

TITLES = {"stars": "Stars", "smileys": "Smileys", "nps": "0-10 (NPS)"}


FAVICON = Asset.of(
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 24 24">'
    '<rect width="24" height="24" rx="5" fill="#1d4ed8"/><path fill="#fff" d="M12 4.5l2.3'
    ' 4.8 5.2.7-3.8 3.6 1 5.2L12 16.3l-4.7 2.5 1-5.2-3.8-3.6 5.2-.7z"/></svg>\n'
)
SCRIPT = Asset.of(SCRIPT_SOURCE)
SHORT_CACHE = "public, max-age=300"


class HomePage:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def home(self, request: Request) -> Response:
        settings = self.services.settings
        entries = self._entries()
        page = render_demo(entries, __version__) if entries else render_home(__version__)
        return HTMLResponse(page, headers=html_headers(settings.frame_ancestors, STYLE_HASH))

    async def scores(self, request: Request) -> Response:
        """`/demo/scores`: each demo widget's score line, as the page shows it."""
        return JSONResponse(score_lines(self._entries()), headers={"Cache-Control": "no-store"})

    async def script(self, request: Request) -> Response:
        return serve(request, SCRIPT, SHORT_CACHE)

    async def favicon(self, request: Request) -> Response:
        """An icon, so a browser opening any page here logs no 404 for it."""
        response = serve(request, FAVICON, "public, max-age=86400")
        response.headers["content-type"] = "image/svg+xml"
        return response

    def _entries(self) -> list[DemoEntry]:
        store, settings = self.services.store, self.services.settings
        entries = []
        for touchpoint in sorted(store.touchpoints(), key=lambda tp: demo_rank(tp.slug)):
            if not is_demo(touchpoint.slug) or not touchpoint.active:
                continue
            entries.append(
                DemoEntry(
                    touchpoint.slug,
                    TITLES.get(touchpoint.scale.name, touchpoint.scale.name),
                    self.services.signer.mint_embed(touchpoint.slug, touchpoint.token_version),
                    settings.base_url,
                    self.services.ratings.live_score(touchpoint),
                )
            )
        return entries
