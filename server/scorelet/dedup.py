"""One rating per browser per touchpoint, for anonymous touchpoints, without cookies.

The widget keeps a random client id in localStorage and sends it as
`client` with each rating. When the same client rates the same touchpoint
again within the window, the new rating replaces its earlier one (exactly as
re-posting a rating's `id` does) instead of counting twice, so reloading a
page can't stuff a touchpoint. Subject-token ratings don't need this: they
are already one per subject.

The store consults and updates the map inside the single writer, in the
same step as the write it guards, so simultaneous posts from one browser
can't both find "no earlier rating" and make two.

It is a speed bump, not a wall: a script can send a fresh id every time, and
per-IP rate limits are what slow that down. The map lives in memory, bounded
(oldest first out), and is rebuilt at start from the last day's ratings; the
id is random, so it says nothing about the person.
"""

from __future__ import annotations

import re
from typing import Any

from scorelet.errors import invalid

# Anonymous (embed-token) ratings can be changed by re-posting their id or by the same
# browser, or commented on, for this long; subject-token ratings as long as the token lives.
EDIT_WINDOW = 24 * 3600
MAX_CLIENTS = 100_000
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Stop matching a little before the edit window closes, so a replacement never
# lands just after the store has stopped allowing it.
MARGIN = 60.0


def check_client(value: Any, field: str = "client") -> str:
    if not isinstance(value, str) or not CLIENT_ID.fullmatch(value):
        raise invalid(field, f"{field} must be 16-64 letters, digits, '-' or '_' (a random id)")
    return value


class ClientWindow:
    """(touchpoint, client id) -> the response it gave, for `window` seconds."""

    def __init__(self, window: float, max_entries: int = MAX_CLIENTS) -> None:
        self.window = max(0.0, window - MARGIN)
        self.max_entries = max_entries
        self._seen: dict[tuple[int, str], tuple[str, float]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def previous(self, touchpoint_id: int, client: str, now: float) -> str | None:
        """The id of this client's rating of this touchpoint, if still within the window."""
        entry = self._seen.get((touchpoint_id, client))
        if entry is None or now - entry[1] >= self.window:
            return None
        return entry[0]

    def remember(self, touchpoint_id: int, client: str, response_id: str, now: float) -> None:
        key = (touchpoint_id, client)
        if key in self._seen:
            return  # keep the first time: the window runs from the first rating
        if len(self._seen) >= self.max_entries:
            for old in list(self._seen)[: max(1, self.max_entries // 10)]:
                del self._seen[old]
        self._seen[key] = (response_id, now)
