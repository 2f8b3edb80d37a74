"""`DirectRoutes`: the two busiest endpoints, called without Starlette's layers.

Nearly all traffic is ratings arriving (`POST /api/v1/responses`) and
dashboards polling a score (`GET /api/v1/touchpoints/{slug}/score`). Through
Starlette each request passes its error middleware, exception middleware,
router (a regex per route tried) and two wrappers per endpoint before the
handler runs: about as much CPU as the handler itself (see bench/README.md).
Here those two are matched with string tests and their handlers (the same
functions the Starlette routes name) called directly; an error is answered by
the app's exception handler for it, as Starlette would (found the same way:
the error's class, then its bases). Everything else, including other methods
on these paths, goes on to Starlette, whose routes still list both for 405s
and the OpenAPI check.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scorelet.store import StorageError

log = logging.getLogger("scorelet")
Handler = Callable[[Request], Awaitable[Response]]
TOUCHPOINTS = "/api/v1/touchpoints/"
SCORE = "/score"


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class DirectRoutes:
    def __init__(
        self,
        app: ASGIApp,
        submit: Handler,
        score: Handler,
        handlers: Mapping[Any, Callable[..., Any]],
    ) -> None:
        self.app = app
        self.submit = submit
        self.score = score
        self.handlers = handlers

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

    async def _handle(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except ClientDisconnect:  # the client left mid-body: nobody to answer
            return
        except Exception as error:
            answer = self._handler_for(error)
            if answer is None:
                raise
            crash = answer is self.handlers.get(Exception)
            if crash and not isinstance(error, StorageError):
                log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = await answer(request, error)
        await response(scope, receive, send)

    def _handler_for(self, error: Exception) -> ErrorHandler | None:
        for cls in type(error).__mro__:
            if cls in self.handlers:
                found: ErrorHandler = self.handlers[cls]
                return found
        return None
