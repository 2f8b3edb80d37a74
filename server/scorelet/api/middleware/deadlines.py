"""A time limit on reading request bodies, against slow-loris uploads.

uvicorn limits the wait between requests but not the wait for a body, so a
client could hold a connection and a task open for ever by trickling bytes.
A timer per request would cost microseconds on every submission; instead
`Guard` registers the request's task in a dict (a few hundred
nanoseconds) until the last body chunk arrives, and one timer, armed only
while bodies are being read, wakes once a second and cancels the reads past
their deadline. `Guard` turns that cancellation into 408
`body_timeout`, so every endpoint that reads a body is covered.
"""

from __future__ import annotations

import asyncio
import time

SWEEP_INTERVAL = 1.0


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
