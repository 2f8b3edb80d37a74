"""The hosted rating page `/r/{token}`, for one-click ratings from an email or SMS.

Mail scanners and prefetchers follow links with GET, so a GET never records:
`/r/{token}?score=N` shows that score preselected with a confirm button, and
only the form's POST (or the widget's own POST, after a click) saves it. The
page and its POST answer in HTML, never JSON: a person is reading them.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from scorelet.api.embed import serve
from scorelet.api.headers import html_headers
from scorelet.api.services import Services
from scorelet.errors import Problem
from scorelet.rating_page import (
    PAGES_DIR,
    Assets,
    Words,
    choose_language,
    confirm_page,
    message_page,
    rating_page,
    thanks_page,
    words,
)
from scorelet.ratings import Bearer
from scorelet.shapes import COMMENT_EDIT, SUBMISSION
from scorelet.store import StorageError
from scorelet.tokens import IdentityClaims, TokenError
from scorelet.touchpoints import Touchpoint
from scorelet.validation import check_uuid
from scorelet.widget import Asset, runtime

FORM_TYPE = "application/x-www-form-urlencoded"
FORM_FIELDS = frozenset({"score", "id", "comment"})
ASSET_CACHE = "public, max-age=31536000, immutable"
CSS_TYPE = "text/css; charset=utf-8"
# Which page a token problem gets, and with what status.
TOKEN_PAGES = {
    "token_expired": (410, "expired", "expired_body"),
    "touchpoint_inactive": (403, "paused", "paused_body"),
}
INVALID_PAGE = (404, "invalid", "invalid_body")


class PageProblem(Exception):
    """A request the page answers with a message page instead of the form."""

    def __init__(
        self, status: int, title_key: str, body_key: str, touchpoint: Touchpoint | None = None
    ) -> None:
        super().__init__(title_key)
        self.status, self.title_key, self.body_key = status, title_key, body_key
        self.touchpoint = touchpoint


class RatingPages:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.css = Asset.of((PAGES_DIR / "hosted.css").read_text(encoding="utf-8"))
        self.js = Asset.of((PAGES_DIR / "hosted.js").read_text(encoding="utf-8"))
        widget = runtime()
        self.assets = Assets(
            f"/hosted.{self.css.tag}.css",
            f"/hosted.{self.js.tag}.js",
            widget.path,
            widget.integrity,
            services.settings.brand,
        )

    def _html(
        self,
        text: str,
        touchpoint: Touchpoint | None,
        status: int = 200,
        extra: Mapping[str, str] | None = None,
    ) -> Response:
        """The page with a policy that lets in its brand's style sheet and logo, nothing more."""
        brand = self.assets.brand(touchpoint)
        style = f"'self' {brand.style_hash}" if brand.style_hash else "'self'"
        images = f"'self' data: {brand.logo_origin}" if brand.logo_origin else "'self' data:"
        headers = html_headers(self.services.settings.frame_ancestors, style, images)
        return HTMLResponse(text, status_code=status, headers={**headers, **(extra or {})})

    def _words(self, request: Request, locale: str | None) -> Words:
        return words(choose_language(locale, request.headers.get("accept-language", "")))

    async def _bearer(self, request: Request) -> Bearer:
        token = _token(request)
        try:
            return await self.services.ratings.subject_bearer(token)
        except Problem as problem:
            page = TOKEN_PAGES.get(problem.code, INVALID_PAGE)
            raise PageProblem(*page, self._touchpoint_of(token)) from None

    def _touchpoint_of(self, token: str) -> Touchpoint | None:
        """An expired link still names its touchpoint: say so in its language and brand."""
        try:
            claims = self.services.signer.verify(token)
        except TokenError:
            return None
        if isinstance(claims, IdentityClaims):
            return None
        return self.services.store.touchpoint(claims.touchpoint)

    async def page(self, request: Request) -> Response:
        """`GET /r/{token}[?score=N]`: the rating page; never records anything."""
        try:
            bearer = await self._bearer(request)
        except PageProblem as problem:
            return self._message(request, problem)
        touchpoint, action = bearer.touchpoint, request.url.path
        w = self._words(request, touchpoint.locale)
        current = await self.services.ratings.current(bearer)
        now = current.score if current else None
        raw = request.query_params.get("score")
        if raw is None:
            page = rating_page(action, _token(request), touchpoint, w, self.assets, now)
            return self._html(page, touchpoint)
        chosen = _score(raw, bearer)
        if chosen is None:
            page = rating_page(
                action, _token(request), touchpoint, w, self.assets, now, w["bad_score"]
            )
            return self._html(page, touchpoint, 400)
        return self._html(confirm_page(action, touchpoint, w, self.assets, chosen, now), touchpoint)

    async def submit(self, request: Request) -> Response:
        """`POST /r/{token}`: save the chosen score, or the comment, and say thank you."""
        try:
            bearer = await self._bearer(request)
        except PageProblem as problem:
            return self._message(request, problem)
        touchpoint, action = bearer.touchpoint, request.url.path
        w = self._words(request, touchpoint.locale)
        form = await self._form(request)
        ratings, token = self.services.ratings, _token(request)
        try:
            if "id" in form:  # whichever step sent it, a malformed id is a bad form
                check_uuid(form["id"])
            if "score" in form:
                score = _score(form["score"], bearer)
                if score is None:
                    return self._retry(request, bearer, w, "bad_score")
                rating = SUBMISSION.decode(
                    {"token": token, "score": score, "comment": form.get("comment")}
                )
                stored = (await ratings.record(bearer, rating)).response
                page = thanks_page(
                    action, touchpoint, w, self.assets, stored.id, score, stored.comment
                )
                return self._html(page, touchpoint)
            edit = COMMENT_EDIT.decode({"token": token, "comment": form.get("comment")})
            stored = await ratings.comment(bearer, check_uuid(form.get("id")), edit.comment)
        except StorageError:  # e.g. an id that is another conversation's rating
            return self._retry(request, bearer, w, "bad_form")
        except Problem as problem:
            if problem.code == "rate_limited":
                page = message_page(w, self.assets, "busy", "busy_body", touchpoint)
                return self._html(page, touchpoint, 429, problem.headers)
            return self._retry(request, bearer, w, "bad_form")
        page = thanks_page(
            action, touchpoint, w, self.assets, stored.id, stored.score, stored.comment, True
        )
        return self._html(page, touchpoint)

    async def _form(self, request: Request) -> dict[str, str]:
        """The urlencoded form, size-limited; anything else reads as an empty form.

        The page's forms send `score`, or `id` and `comment`, each once. A form
        with other fields (`context` above all: it comes from the token only) or
        with a field twice is ambiguous, so it reads as empty and gets the retry page.
        """
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.services.settings.max_body:
                return {}
        if media_type != FORM_TYPE:
            return {}
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return {}
        form = dict(pairs)
        if len(form) != len(pairs) or not form.keys() <= FORM_FIELDS:
            return {}
        return form

    def _retry(self, request: Request, bearer: Bearer, w: Words, notice: str) -> Response:
        page = rating_page(
            request.url.path,
            _token(request),
            bearer.touchpoint,
            w,
            self.assets,
            None,
            w[notice],
        )
        return self._html(page, bearer.touchpoint, 400)

    def _message(self, request: Request, problem: PageProblem) -> Response:
        touchpoint = problem.touchpoint
        w = self._words(request, touchpoint.locale if touchpoint else None)
        page = message_page(w, self.assets, problem.title_key, problem.body_key, touchpoint)
        return self._html(page, touchpoint, problem.status)

    async def script(self, request: Request) -> Response:
        return self._asset(request, self.js, "js")

    async def style(self, request: Request) -> Response:
        return self._asset(request, self.css, "css")

    def _asset(self, request: Request, asset: Asset, kind: str) -> Response:
        if request.path_params["hash"] != asset.tag:
            raise Problem(404, "asset_not_found", f"no hosted-page {kind} has this hash")
        response = serve(request, asset, ASSET_CACHE)
        if kind == "css" and response.status_code == 200:
            response.headers["content-type"] = CSS_TYPE
        return response


def _token(request: Request) -> str:
    token: str = request.path_params["token"]
    return token


def _score(raw: str, bearer: Bearer) -> int | None:
    """The score from a query or form, if it is a whole number on the touchpoint's scale.

    Digits only: no scale has negative points, and `-0` is no more a score here
    than in a JSON body.
    """
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    score = int(text)
    return score if bearer.touchpoint.scale.accepts(score) else None
