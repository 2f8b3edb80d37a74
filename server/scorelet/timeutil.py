"""Timestamps: epoch seconds inside, ISO 8601 UTC outside."""

from __future__ import annotations

import re
from datetime import UTC, datetime

HOUR = 3600
DAY = 86400
# The instants a window may name. Beyond them a date can't be shown, bucketed
# or shifted to a time zone (Python's datetime ends at year 9999).
EARLIEST = 0.0  # 1970-01-01T00:00:00Z
LATEST = 253_370_764_800.0  # 9999-01-01T00:00:00Z
_EPOCH = re.compile(r"^-?\d{1,12}(?:\.\d{1,6})?$")
# A part of what parse_instant accepts, for JSON Schema: epoch seconds, or an ISO 8601
# date or date-time (no zone: UTC) from 1980 to 8999.
INSTANT_PATTERN = (
    r"^(?:[0-9]{1,11}(?:\.[0-9]{1,6})?|(?:19[89][0-9]|[2-8][0-9]{3})-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|1[0-9]|2[0-8])(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9])?)?)$"
)


def iso(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-23T15:04:05.123Z."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> float:
    """Epoch seconds from ISO 8601 (date or date-time; no zone means UTC) or epoch seconds,
    between 1970-01-01 and 9999-01-01 (UTC)."""
    text = text.strip()
    if _EPOCH.match(text):
        instant = float(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            instant = moment.timestamp()
        except (ValueError, OverflowError):
            raise ValueError(
                f"{text[:64]!r} is neither ISO 8601 (2026-11-01 or 2026-11-01T09:30:00Z)"
                " nor epoch seconds"
            ) from None
    if not EARLIEST <= instant < LATEST:
        raise ValueError(f"{text[:64]!r} is outside 1970-01-01 .. 9999-01-01 (UTC)")
    return instant
