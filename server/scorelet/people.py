"""Identified people: the rules for a person id and the traits an identity token carries.

A person is whoever the site's backend says (its own user id); Scorelet
never learns more than the traits it is given. Two traits have a meaning:

- `signed_up_at`: when the person signed up, an ISO 8601 date (`2026-01-31`)
  or date-time (`2026-01-31T09:30:00+01:00`). `--min-days-since-signup` and
  `--anniversary-window` read it.
- `timezone`: the person's IANA time zone (`Europe/Berlin`). A date-only signup
  starts at midnight there, and anniversaries are calendar days there; without
  it the offset in `signed_up_at` is used, else UTC.

Every other trait is free-form context (plan, country ...). Pure: no I/O.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from scorelet.errors import invalid
from scorelet.validation import check_context, check_subject

SIGNED_UP_AT = "signed_up_at"
TIME_ZONE = "timezone"


def check_person(value: Any, field: str = "person") -> str:
    """A person id: the site's own user id, 1-200 characters, no control characters."""
    return check_subject(value, field)


def check_traits(value: Any, field: str = "traits") -> dict[str, str]:
    """Traits as context (a small string map), with `signed_up_at` and `tz` readable."""
    traits = check_context(value, field)
    try:
        zone_of(traits)
    except ValueError as error:
        raise invalid(f"{field}.{TIME_ZONE}", str(error)) from None
    try:
        signed_up(traits)
    except ValueError as error:
        raise invalid(f"{field}.{SIGNED_UP_AT}", str(error)) from None
    return traits


def zone_of(traits: Mapping[str, str]) -> tzinfo | None:
    """The person's own time zone, if the traits name one."""
    name = traits.get(TIME_ZONE)
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name[:64]!r} is not an IANA time zone such as Europe/Berlin") from None


def signed_up(traits: Mapping[str, str]) -> datetime | None:
    """When the person signed up, as an aware datetime in their time zone (None: unknown)."""
    text = traits.get(SIGNED_UP_AT)
    if text is None:
        return None
    zone = zone_of(traits)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=zone or UTC)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text[:64]!r} is not an ISO 8601 date (2026-01-31) or date-time"
            " (2026-01-31T09:30:00+01:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    elif zone is not None:
        moment = moment.astimezone(zone)
    if not datetime(1970, 1, 2, tzinfo=UTC) <= moment <= datetime(9000, 1, 1, tzinfo=UTC):
        raise ValueError(f"{text[:64]!r} is not a plausible signup time")
    return moment
