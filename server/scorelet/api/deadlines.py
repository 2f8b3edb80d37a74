"""A time limit on reading request bodies, against slow-loris uploads.

uvicorn limits the wait between requests but not the wait for a body, so a
client could hold a connection and a task open for ever by trickling bytes.
A timer per request would cost microseconds on every submission; instead
`BodyTimeout` registers the request's task in a dict (a few hundred
nanoseconds) until the last body chunk arrives, and one timer, armed only
while bodies are being read, wakes once a second and cancels the reads past
their deadline. The middleware turns that cancellation into 408
`body_timeout`, so every endpoint that reads a body is covered.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scorelet.errors import Problem, problem_response

SWEEP_INTERVAL = 1.0
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class BodyDeadlines:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._reading: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._armed = False

    def start(self, task: asyncio.Task[object]) -> None:
        self._reading[task] = time.monotonic() + self.seconds
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    def finish(self, task: asyncio.Task[object]) -> None:
        self._reading.pop(task, None)

    def timed_out(self, task: asyncio.Task[object]) -> bool:
        """Whether `task` was cancelled by its deadline (not by a shutdown); clears the mark."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _sweep(self) -> None:
        now = time.monotonic()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        if self._reading:
            asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)
        else:
            self._armed = False


class BodyTimeout:
    """Answers 408 when a request's body isn't complete within the deadline."""

    def __init__(self, app: ASGIApp, deadlines: BodyDeadlines) -> None:
        self.app = app
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] != "http" or scope["method"] in _BODYLESS or task is None:
            await self.app(scope, receive, send)
            return
        deadlines = self.deadlines
        started = False

        async def receive_in_time() -> Message:
            message = await receive()
            if not message.get("more_body", False):
                deadlines.finish(task)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        deadlines.start(task)
        try:
            await self.app(scope, receive_in_time, send_tracked)
        except asyncio.CancelledError:
            if not deadlines.timed_out(task) or started:
                raise
            detail = f"the request body took more than {deadlines.seconds:g} s to arrive"
            problem = Problem(408, "body_timeout", detail, headers={"Connection": "close"})
            await problem_response(problem)(scope, receive, send)
        finally:
            deadlines.finish(task)
