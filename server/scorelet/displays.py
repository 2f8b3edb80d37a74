"""Impressions and the ratings they led to: what a response rate is made of. No I/O.

An impression is the widget on screen. Ratings also arrive without one (the
API, the hosted page's plain form, an email link), so dividing all ratings
by impressions can give "600%". The rate here relates only the ratings sent
by a widget that had counted its impression (`answered`) to impressions.
Both are kept per hour, so a window's rate uses the same hours for both; a
display seen just before an hour starts and rated just after it can still
put one more answer than impressions into a window's edge, so the rate is
capped at 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scorelet.scoring import percent

if TYPE_CHECKING:
    from scorelet.views import Rates

# Why a response rate is null.
NO_IMPRESSIONS = "no_impressions"
CONTEXT_FILTERS = "context_filters"
RATING_FILTERS = "rating_filters"  # a score range or a comment filter: displays have neither
REASONS = (NO_IMPRESSIONS, CONTEXT_FILTERS, RATING_FILTERS)


@dataclass(frozen=True, slots=True)
class Displays:
    impressions: int = 0
    answered: int = 0


def rate_fields(displays: Displays | None, reason: str = CONTEXT_FILTERS) -> Rates:
    """The score body's impression fields; `displays` is None under filters that
    impressions can't follow (`reason` names which)."""
    if displays is None:
        return {
            "impressions": None,
            "answered_impressions": None,
            "response_rate": None,
            "response_rate_reason": reason,
        }
    shown, answered = displays.impressions, min(displays.answered, displays.impressions)
    return {
        "impressions": shown,
        "answered_impressions": answered,
        "response_rate": percent(answered, shown) if shown else None,
        "response_rate_reason": None if shown else NO_IMPRESSIONS,
    }
