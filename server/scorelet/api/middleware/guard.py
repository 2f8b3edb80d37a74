"""`Guard`: the one ASGI middleware for abuse controls and response headers.

Every request passes through here, so the four jobs share one layer and one
send wrapper instead of four (each layer costs a coroutine and a closure per
request, a few microseconds together; see bench/README.md):

- per-IP rate limit on the public paths, before any body is read (limits.py);
- a time limit on reading the body, against slow-loris uploads (deadlines.py);
- CORS on the public endpoints, for origins the handler accepted (cors.py);
- `X-Content-Type-Options: nosniff` on every answer (headers.py).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scorelet.api.headers import NOSNIFF
from scorelet.api.middleware.cors import ALLOWED, PUBLIC_PREFIXES, preflight
from scorelet.api.middleware.deadlines import BodyDeadlines
from scorelet.errors import Problem, problem_response
from scorelet.limits import Limits

LIMITED_POSTS = frozenset({"/api/v1/responses", "/api/v1/impressions", "/api/v1/dismissals"})
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
VARY_ORIGIN = (b"vary", b"Origin")


class Guard:
    def __init__(self, app: ASGIApp, limits: Limits, deadlines: BodyDeadlines) -> None:
        self.app = app
        self.limits = limits
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        public = path.startswith(PUBLIC_PREFIXES)
        if public and method == "OPTIONS" and await preflight(scope, send):
            return
        limits = self.limits
        if limits.enabled and limited_path(method, path):
            try:
                limits.check_ip(limits.client_ip(scope))
            except Problem as problem:
                await self._answer(problem, scope, receive, send)
                return
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                for name, _ in headers:  # a loop, not any(): no generator per response
                    if name == NOSNIFF[0]:
                        break
                else:
                    headers.append(NOSNIFF)
                if public:
                    headers.append(VARY_ORIGIN)
                    allowed = scope.get(ALLOWED)
                    if allowed is not None:
                        headers.append((b"access-control-allow-origin", allowed.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        task = asyncio.current_task() if method not in BODYLESS else None
        if task is None:
            await self.app(scope, receive, guarded_send)
            return
        deadlines = self.deadlines

        async def receive_in_time() -> Message:
            message = await receive()
            if not message.get("more_body", False):
                deadlines.finish(task)
            return message

        deadlines.start(task)
        try:
            await self.app(scope, receive_in_time, guarded_send)
        except asyncio.CancelledError:
            if started or not deadlines.timed_out(task):
                raise
            detail = f"the request body took more than {deadlines.seconds:g} s to arrive"
            timeout = Problem(408, "body_timeout", detail, headers={"Connection": "close"})
            await self._answer(timeout, scope, receive, send)
        finally:
            deadlines.finish(task)

    @staticmethod
    async def _answer(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
        problem.headers.setdefault("X-Content-Type-Options", "nosniff")
        await problem_response(problem)(scope, receive, send)


def limited_path(method: str, path: str) -> bool:
    """The public, unauthenticated paths: rating, commenting, counting views and closes,
    the hosted page."""
    if path.startswith("/api/v1/"):
        return (method == "POST" and path in LIMITED_POSTS) or (
            method == "PATCH" and path.startswith("/api/v1/responses/")
        )
    return path.startswith("/r/")
