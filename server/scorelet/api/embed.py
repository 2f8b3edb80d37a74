"""The script tag's target `/s/{token}.js` and the widget runtime it loads.

Everything here is served from memory with a precomputed ETag (gzipped when
the client accepts it): these are the most requested URLs and sit on the
host page's critical path. A bad token still gets 200 JavaScript, a script
that warns once in the console, so a revoked tag never breaks a page.

With `?identity=TOKEN` (the signed-in person's identity token) the loader also
carries the eligibility decision for that person (`e`), so the widget knows
whether to render without another request; such a loader is built per
request and never cached, since the answer changes the moment the person is
shown the widget or answers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from scorelet.api.refusals import REFUSALS
from scorelet.api.services import Services
from scorelet.errors import Problem, not_found
from scorelet.touchpoints import Touchpoint
from scorelet.views import DecisionView
from scorelet.widget import Asset, Loaders, Runtime, runtime, unavailable_source

JS = "text/javascript; charset=utf-8"
LOADER_CACHE = "public, max-age=300"
LATEST_CACHE = "public, max-age=300"
PERSONAL_CACHE = "no-store"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"


def accepts_gzip(header: str) -> bool:
    for part in header.lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def serve(
    request: Request, asset: Asset, cache_control: str, vary: str = "Accept-Encoding"
) -> Response:
    """The asset, or 304 when the client holds either encoding of it."""
    zipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    headers = {
        "ETag": asset.etag(zipped),
        "Cache-Control": cache_control,
        "Vary": vary,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    match = request.headers.get("if-none-match", "")
    if asset.tag in match or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return Response(asset.gzipped if zipped else asset.body, media_type=JS, headers=headers)


def _note_refused_page(request: Request, touchpoint: Touchpoint) -> None:
    """A page the touchpoint doesn't list is loading its tag: its widget will stay blank.

    Browsers send the page's origin as `Referer` with a cross-site script
    (unless the page forbids it); say so in the server's log, rate-limited.
    """
    referer = request.headers.get("referer")
    if not referer:
        return
    try:
        parts = urlsplit(referer)
    except ValueError:  # a bracketed host that is no IPv6 address: no page sends that
        return
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in touchpoint.origins and parts.netloc != request.headers.get("host"):
        REFUSALS.refused(touchpoint, origin, "a page there loaded the widget, which stays hidden")


class EmbedApi:
    def __init__(self, services: Services, widget: Runtime | None = None) -> None:
        self.services = services
        self.runtime = widget or runtime()
        self.loaders = Loaders(self.runtime)

    async def loader(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            bearer = await self.services.ratings.bearer(token)
        except Problem as problem:
            return Response(
                unavailable_source(f"{problem.detail} ({problem.code})"),
                media_type=JS,
                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
            )
        if bearer.touchpoint.origins:
            _note_refused_page(request, bearer.touchpoint)
        # The language travels in the loader: the page may name it (`l` overrides, `p` is the
        # page's lang, both sent by `mount`), else the touchpoint's locale, else the browser's.
        query, touchpoint = request.query_params, bearer.touchpoint
        language = self.loaders.language(
            touchpoint,
            query.get("l", ""),
            query.get("p", ""),
            request.headers.get("accept-language", ""),
        )
        identity = query.get("identity")
        if identity is None:
            asset = self.loaders.get(token, touchpoint, language)
            return serve(request, asset, LOADER_CACHE, "Accept-Encoding, Accept-Language")
        decision = await self._decision(touchpoint, identity)
        asset = self.loaders.personal(token, touchpoint, language, decision)
        return serve(request, asset, PERSONAL_CACHE, "Accept-Encoding, Accept-Language")

    async def _decision(self, touchpoint: Touchpoint, identity: str) -> DecisionView:
        """Whether to show, for the person, as if the touchpoint's event had fired (the
        widget waits for it itself); a bad identity token is a "no" naming its problem."""
        ratings = self.services.ratings
        try:
            person = ratings.identity(identity)
        except Problem as problem:
            return {
                "show": False,
                "reason": problem.code,
                "detail": problem.detail,
                "next_eligible_at": None,
            }
        decision = await ratings.eligibility(touchpoint, person, touchpoint.policy.event)
        return decision.public()

    async def latest(self, request: Request) -> Response:
        """`/widget.js`: for pages that mount from JavaScript; re-checked every few minutes."""
        return serve(request, self.runtime.asset, LATEST_CACHE)

    async def hashed(self, request: Request) -> Response:
        if request.path_params["hash"] != self.runtime.asset.tag:
            raise not_found("widget_not_found", "no widget runtime has this hash; reload the page")
        return serve(request, self.runtime.asset, IMMUTABLE_CACHE)
