"""`DirectRoutes`: the two busiest endpoints, called without Starlette's layers.

Nearly all traffic is ratings arriving (`POST /api/v1/responses`) and
dashboards polling a score (`GET /api/v1/touchpoints/{slug}/score`). Through
Starlette each request passes its error middleware, exception middleware,
router (a regex per route tried) and two wrappers per endpoint before the
handler runs: about as much CPU as the handler itself (see bench/README.md).
Here those two are matched with string tests and their handlers (the same
functions the Starlette routes name) called directly, with the same error
shapes. Everything else, including other methods on these paths, goes on to
Starlette, whose routes still list both for 405s and the OpenAPI check.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scorelet.api.problems import problem_of
from scorelet.errors import problem_response
from scorelet.store import StorageError

log = logging.getLogger("scorelet")
Handler = Callable[[Request], Awaitable[Response]]
TOUCHPOINTS = "/api/v1/touchpoints/"
SCORE = "/score"


class DirectRoutes:
    def __init__(self, app: ASGIApp, submit: Handler, score: Handler) -> None:
        self.app = app
        self.submit = submit
        self.score = score

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._match(scope)
            if handler is not None:
                await self._handle(handler, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _match(self, scope: Scope) -> Handler | None:
        method, path = scope["method"], scope["path"]
        if method == "POST":
            return self.submit if path == "/api/v1/responses" else None
        if method == "GET" and path.startswith(TOUCHPOINTS) and path.endswith(SCORE):
            slug = path[len(TOUCHPOINTS) : -len(SCORE)]
            if slug and "/" not in slug:  # what Starlette's {slug} matches
                scope["path_params"] = {"slug": slug}
                return self.score
        return None

    @staticmethod
    async def _handle(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await handler(Request(scope, receive))
        except ClientDisconnect:  # the client left mid-body: nobody to answer
            return
        except Exception as error:
            problem = problem_of(error)
            if problem.status == 500 and not isinstance(error, StorageError):
                log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = problem_response(problem)
        await response(scope, receive, send)
