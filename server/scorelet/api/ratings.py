"""Ratings: the widget's endpoints (submit, comment, count a view), and one rating by id.

Thin: each reads its body into its shape (shapes.py), checks the page's
origin, and calls the use case (scorelet/ratings.py), where every rule lives.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.auth import authorize
from scorelet.api.body import read_json
from scorelet.api.caching import Prepared, encode
from scorelet.api.claims import check_origin
from scorelet.api.services import Services
from scorelet.errors import Problem, allowed_methods, invalid
from scorelet.ratings import Bearer
from scorelet.shapes import COMMENT_EDIT, IMPRESSION, SUBMISSION, Shape
from scorelet.validation import SLUG, check_uuid


class TokenBody(Protocol):
    @property
    def token(self) -> str: ...


B = TypeVar("B", bound=TokenBody)
JSON_TYPE = (b"content-type", b"application/json")


def require_token(body: dict[str, Any]) -> None:
    """A rating names its touchpoint by token, never by slug: say how to get one."""
    if body.get("token") is not None:
        return
    slug = body.get("touchpoint")
    named = slug if isinstance(slug, str) and SLUG.fullmatch(slug) else "SLUG"
    detail = (
        f"token required: copy it from `scorelet embed {named} --token`"
        " (or use a subject token from POST /api/v1/tokens)"
    )
    if "touchpoint" in body:
        detail += "; a rating names its touchpoint by its token, so drop the touchpoint field"
    raise invalid("token", detail, "missing_field")


def rating_id(request: Request) -> str:
    """The rating id in the path; `current` is the conversation's own rating, which is only
    read (GET), so another method on it is a 405, not a malformed id."""
    if request.path_params["id"] == "current":
        raise Problem(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}",
            headers={"Allow": ", ".join(allowed_methods(request))},
        )
    return check_uuid(request.path_params["id"])


class RatingsApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _read(self, request: Request, shape: Shape[B]) -> tuple[B, Bearer]:
        """The body in its shape, once its token and the page's origin have passed:
        a request with a bad token learns nothing about its other fields."""
        body = await read_json(request, self.services.settings.max_body)
        require_token(body)
        shape.check_names(body)
        bearer = await self.services.ratings.bearer(body.get("token"))
        check_origin(request, bearer.touchpoint)
        return shape.decode(body), bearer

    async def submit(self, request: Request) -> Response:
        rating, bearer = await self._read(request, SUBMISSION)
        recorded = await self.services.ratings.record(bearer, rating)
        stored = recorded.response
        body = encode(stored.public(bearer.touchpoint.slug))
        headers = [
            JSON_TYPE,
            (b"content-length", b"%d" % len(body)),
            (b"location", b"/api/v1/responses/" + stored.id.encode()),
        ]
        return Prepared(201 if recorded.created else 200, body, headers)

    async def comment(self, request: Request) -> Response:
        response_id = rating_id(request)
        edit, bearer = await self._read(request, COMMENT_EDIT)
        stored = await self.services.ratings.comment(bearer, response_id, edit.comment)
        return JSONResponse(stored.public(bearer.touchpoint.slug))

    async def impression(self, request: Request) -> Response:
        shown, bearer = await self._read(request, IMPRESSION)
        await self.services.ratings.impression(bearer, shown.identity)
        return Response(status_code=204)

    async def dismissal(self, request: Request) -> Response:
        """`POST /api/v1/dismissals`: the close button; kept per person, never an answer."""
        closed, bearer = await self._read(request, IMPRESSION)
        await self.services.ratings.dismissal(bearer, closed.identity)
        return Response(status_code=204)

    async def show(self, request: Request) -> Response:
        """`GET /api/v1/responses/{id}` (read key): one rating, to look it up by its id."""
        await authorize(request, self.services.store, "read")
        stored, touchpoint = await self.services.ratings.find(check_uuid(request.path_params["id"]))
        return JSONResponse(stored.public(touchpoint.slug), headers={"Cache-Control": "no-store"})

    async def delete(self, request: Request) -> Response:
        """`DELETE /api/v1/responses/{id}` (admin key): a test or spam rating, gone from every
        score, series, breakdown, listing and export."""
        response_id = rating_id(request)  # `current` is a 405 before any key is asked for
        await authorize(request, self.services.store, "admin")
        await self.services.ratings.delete(response_id)
        return Response(status_code=204)
