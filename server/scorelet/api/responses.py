"""Ratings: the widget's endpoints (submit, comment, count a view), and one rating by id.

Context comes from a subject token, never from the browser: with a subject
token the body may not carry any (422 `context_not_allowed`), so a customer
can't relabel feedback as being about another agent or team. Anonymous
(embed-token) ratings may carry the page's own context.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.auth import authorize
from scorelet.api.body import read_json
from scorelet.api.caching import encode
from scorelet.api.claims import Bearer, check_origin, resolve_token
from scorelet.api.services import Services
from scorelet.dedup import check_client
from scorelet.errors import Problem, invalid
from scorelet.store import NewResponse
from scorelet.store.database import EDIT_WINDOW
from scorelet.validation import (
    MAX_COMMENT,
    check_context,
    check_optional_text,
    check_uuid,
    only_fields,
    require,
    wrong_type,
)

SUBMIT_FIELDS = frozenset({"token", "score", "comment", "context", "id", "client"})
COMMENT_FIELDS = frozenset({"token", "comment"})
IMPRESSION_FIELDS = frozenset({"token"})


def _context(value: Any) -> dict[str, str]:
    return check_context(value) if value is not None else {}


class ResponsesApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _bearer(
        self, request: Request, allowed: frozenset[str]
    ) -> tuple[dict[str, Any], Bearer]:
        body = await read_json(request, self.services.settings.max_body)
        only_fields(body, allowed)
        bearer = resolve_token(self.services.signer, self.services.store, body.get("token"))
        check_origin(request, bearer.touchpoint)
        if self.services.limits is not None:
            self.services.limits.check_touchpoint(bearer.touchpoint.id)
        return body, bearer

    async def submit(self, request: Request) -> Response:
        body, bearer = await self._bearer(request, SUBMIT_FIELDS)
        scale = bearer.touchpoint.scale
        score = require(body, "score")
        if isinstance(score, bool) or not isinstance(score, int):
            raise wrong_type("score", "an integer")
        if not scale.accepts(score):
            raise invalid(
                "score",
                f"score must be from {scale.low} to {scale.high} on the {scale.name} scale",
                "score_out_of_range",
            )
        comment = check_optional_text(body.get("comment"), "comment", MAX_COMMENT, multiline=True)
        subject = bearer.subject
        context = body.get("context")
        if subject is not None and context is not None and context != {}:
            raise invalid(
                "context",
                "this subject token carries its own signed context; the body may not add any",
                "context_not_allowed",
            )
        response_id = check_uuid(body["id"]) if body.get("id") is not None else None
        client = check_client(body["client"]) if body.get("client") is not None else None
        new = NewResponse(
            touchpoint_id=bearer.touchpoint.id,
            score=score,
            comment=comment,
            subject=subject.subject if subject else None,
            context=bearer.context if subject else _context(context),
            id=response_id,
            edit_window=None if subject else EDIT_WINDOW,
            client=client if subject is None else None,
        )
        stored, replaced = await self.services.store.record_response(new)
        return Response(
            encode(stored.public(bearer.touchpoint.slug)),
            status_code=201 if replaced is None else 200,
            headers={"Location": f"/api/v1/responses/{stored.id}"},
            media_type="application/json",
        )

    async def comment(self, request: Request) -> Response:
        response_id = check_uuid(request.path_params["id"])
        body, bearer = await self._bearer(request, COMMENT_FIELDS)
        if "comment" not in body:
            raise invalid("comment", "comment is required (null clears it)", "missing_field")
        comment = check_optional_text(body["comment"], "comment", MAX_COMMENT, multiline=True)
        stored = await self.services.store.update_comment(
            response_id,
            comment,
            bearer.touchpoint.id,
            bearer.subject.subject if bearer.subject else None,
            EDIT_WINDOW,
        )
        return JSONResponse(stored.public(bearer.touchpoint.slug))

    async def impression(self, request: Request) -> Response:
        _, bearer = await self._bearer(request, IMPRESSION_FIELDS)
        await self.services.store.record_impression(bearer.touchpoint.id)
        return Response(status_code=204)

    async def show(self, request: Request) -> Response:
        """`GET /api/v1/responses/{id}` (read key): one rating, to look it up by its id."""
        await authorize(request, self.services.store, "read")
        stored = await self.services.store.response(check_uuid(request.path_params["id"]))
        touchpoint = self.services.store.touchpoint_by_id(stored.touchpoint_id) if stored else None
        if stored is None or touchpoint is None:
            raise Problem(404, "response_not_found", "no response has this id", "id")
        return JSONResponse(stored.public(touchpoint.slug), headers={"Cache-Control": "no-store"})

    async def delete(self, request: Request) -> Response:
        """`DELETE /api/v1/responses/{id}` (admin key): a test or spam rating, gone from every
        score, series, breakdown, listing and export."""
        await authorize(request, self.services.store, "admin")
        await self.services.store.delete_response(check_uuid(request.path_params["id"]))
        return Response(status_code=204)
