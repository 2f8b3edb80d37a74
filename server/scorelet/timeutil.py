"""Timestamps: epoch seconds inside, ISO 8601 UTC outside."""

from __future__ import annotations

import re
from datetime import UTC, datetime

HOUR = 3600
DAY = 86400
_EPOCH = re.compile(r"^-?\d{1,12}(?:\.\d{1,6})?$")


def iso(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-23T15:04:05.123Z."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> float:
    """Epoch seconds from ISO 8601 (date or date-time; no zone means UTC) or epoch seconds."""
    text = text.strip()
    if _EPOCH.match(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither ISO 8601 (2026-11-01 or 2026-11-01T09:30:00Z) nor epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
