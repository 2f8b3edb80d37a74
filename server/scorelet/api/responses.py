"""The public endpoints the widget calls: submit a rating, add a comment, count a view."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.body import read_json
from scorelet.api.caching import encode
from scorelet.api.claims import Bearer, check_origin, resolve_fresh
from scorelet.api.dedup import ClientWindow, check_client
from scorelet.api.services import Services
from scorelet.errors import invalid
from scorelet.store import NewResponse
from scorelet.validation import (
    MAX_COMMENT,
    SLUG,
    check_context,
    check_optional_text,
    check_uuid,
    only_fields,
    require,
    wrong_type,
)

# Anonymous (embed-token) ratings can be changed by re-posting their id, or
# commented on, for this long; subject-token ratings for as long as the token lives.
EDIT_WINDOW = 24 * 3600
SUBMIT_FIELDS = frozenset({"token", "score", "comment", "context", "id", "client", "shown"})
COMMENT_FIELDS = frozenset({"token", "comment"})
IMPRESSION_FIELDS = frozenset({"token"})


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


class ResponsesApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.clients = ClientWindow(EDIT_WINDOW)

    async def _bearer(
        self, request: Request, allowed: frozenset[str]
    ) -> tuple[dict[str, Any], Bearer]:
        body = await read_json(request, self.services.settings.max_body)
        require_token(body)
        only_fields(body, allowed)
        bearer = await resolve_fresh(self.services.signer, self.services.store, body.get("token"))
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
        context = check_context(body["context"]) if body.get("context") is not None else {}
        response_id = check_uuid(body["id"]) if body.get("id") is not None else None
        subject = bearer.subject
        client = check_client(body["client"]) if body.get("client") is not None else None
        shown = body.get("shown", False)
        if not isinstance(shown, bool):
            raise wrong_type("shown", "true or false")
        if client is not None and subject is None:  # the same browser again: replace
            earlier = self.clients.previous(bearer.touchpoint.id, client, time.time())
            response_id = earlier or response_id
        new = NewResponse(
            touchpoint_id=bearer.touchpoint.id,
            score=score,
            comment=comment,
            subject=subject.subject if subject else None,
            context={**context, **bearer.context},  # the signed context wins
            id=response_id,
            edit_window=None if subject else EDIT_WINDOW,
            shown=shown,
        )
        stored, replaced = await self.services.store.record_response(new)
        if client is not None and subject is None:
            self.clients.remember(bearer.touchpoint.id, client, stored.id, time.time())
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
