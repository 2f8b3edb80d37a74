"""Logging pages refused by a touchpoint's origins, at most once per origin every ten minutes.

A site owner whose widget stays blank needs to hear why on the server too,
not only in a visitor's console. But every visitor of a wrongly set-up page
repeats the same refusal, and a script can send any `Origin` it likes, so
the log is rate-limited per touchpoint and origin, in a bounded table.
"""

from __future__ import annotations

import logging
import time

from scorelet.touchpoints import Touchpoint

log = logging.getLogger("scorelet")
QUIET_SECONDS = 600.0
MAX_REMEMBERED = 1024


def allow_command(touchpoint: Touchpoint, origin: str) -> str:
    """The exact command that adds `origin` to the touchpoint's (replaced) list of origins."""
    origins = " ".join(f"--origin {o}" for o in (*touchpoint.origins, origin))
    return f"scorelet touchpoint update {touchpoint.slug} {origins}"


class OriginRefusals:
    def __init__(self, quiet: float = QUIET_SECONDS) -> None:
        self.quiet = quiet
        self._last: dict[tuple[int, str], float] = {}

    def refused(self, touchpoint: Touchpoint, origin: str, what: str) -> bool:
        """Log that `origin` was refused (`what` happened), unless logged lately; True if logged."""
        origin = origin[:200]
        key, now = (touchpoint.id, origin), time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.quiet:
            return False
        if len(self._last) >= MAX_REMEMBERED:
            self._last.clear()
        self._last[key] = now
        log.warning(
            "%s is not an allowed origin of %r (%s). To allow it: %s",
            origin,
            touchpoint.slug,
            what,
            allow_command(touchpoint, origin),
        )
        return True


REFUSALS = OriginRefusals()
