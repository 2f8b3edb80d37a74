"""When to try a failed delivery again: the Standard Webhooks schedule, with jitter. Pure.

Attempts go out immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
14 h, 20 h and 24 h after each failure; after the last one the delivery is
`dead`, its last error kept, until `scorelet deliveries retry`. Each wait
is stretched by up to a fifth at random, so deliveries that failed together
(a receiver's outage) don't all come back in the same second. A receiver
that says when to come back (429 or 503 with Retry-After) is waited for at
least that long.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime

SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.2
MAX_RETRY_AFTER = 86400.0
MAX_TIMEOUT = 15.0  # the longest any one attempt may take, answer included


def next_attempt(
    attempts: int,
    now: float,
    schedule: Sequence[float] = SCHEDULE,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """When to send again after `attempts` attempts have failed; None: give up (dead)."""
    if attempts >= len(schedule):
        return None
    wait = schedule[attempts] * (1 + JITTER * (rng or random).random())
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def parse_schedule(text: str) -> tuple[float, ...]:
    """`SCORELET_RETRY_SCHEDULE`: comma-separated waits in seconds, the first usually 0."""
    try:
        waits = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError("must be waits in seconds separated by commas, e.g. 0,5,300") from None
    if not waits or any(not 0 <= wait <= MAX_RETRY_AFTER for wait in waits) or len(waits) > 50:
        raise ValueError("must be 1-50 waits of 0 to 86400 seconds, e.g. 0,5,300")
    return waits
