"""Touchpoints: what one is, and the rules for creating and changing one.

`settings_from` turns loosely typed input (JSON bodies, CLI flags) into
validated column values; the store writes them and returns `Touchpoint`s.
Text fields left unset (None) mean "use the widget's built-in wording in the
visitor's language".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scorelet.errors import Problem, invalid
from scorelet.scales import Scale, ScaleError, satisfied_threshold, scale_for
from scorelet.validation import (
    check_int,
    check_locale,
    check_optional_text,
    check_origins,
    check_slug,
    only_fields,
)

TEXT_LIMITS = {
    "question": 300,
    "low_label": 60,
    "high_label": 60,
    "comment_prompt": 300,
    "thank_you": 300,
}
MAX_COOLDOWN_DAYS = 3650
EDITABLE = frozenset(
    {*TEXT_LIMITS, "locale", "origins", "satisfied_from", "cooldown_days", "active"}
)
CREATABLE = EDITABLE | {"slug", "metric", "scale"}


@dataclass(frozen=True, slots=True)
class Touchpoint:
    id: int
    slug: str
    metric: str
    scale: Scale
    question: str | None
    low_label: str | None
    high_label: str | None
    comment_prompt: str | None
    thank_you: str | None
    locale: str | None
    origins: tuple[str, ...]
    satisfied_from: int | None
    cooldown_days: int
    active: bool
    token_version: int
    created_at: float
    updated_at: float

    def public(self) -> dict[str, Any]:
        """The JSON shape of a touchpoint (API and `touchpoint show --json`)."""
        return {
            "slug": self.slug,
            "metric": self.metric,
            "scale": self.scale.name,
            "min": self.scale.low,
            "max": self.scale.high,
            "question": self.question,
            "low_label": self.low_label,
            "high_label": self.high_label,
            "comment_prompt": self.comment_prompt,
            "thank_you": self.thank_you,
            "locale": self.locale,
            "origins": list(self.origins),
            "satisfied_from": self.satisfied_from,
            "cooldown_days": self.cooldown_days,
            "active": self.active,
        }


def _scale_problem(error: ScaleError) -> Problem:
    return invalid(error.field, str(error), error.code)


def new_touchpoint_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Validated columns for a new touchpoint from `slug`, `metric`, `scale` and options."""
    only_fields(body, CREATABLE)
    slug = check_slug(body.get("slug"))
    metric = body.get("metric")
    if metric is None:
        raise invalid("metric", "metric is required: csat or nps", "missing_field")
    scale_name = body.get("scale")
    if scale_name is not None and not isinstance(scale_name, str):
        raise invalid("scale", "scale must be a string", "wrong_type")
    try:
        scale = scale_for(str(metric), scale_name)
    except ScaleError as error:
        raise _scale_problem(error) from None
    fields = {"slug": slug, "metric": metric, "scale": scale.name}
    fields |= changed_fields(metric, scale, {k: v for k, v in body.items() if k in EDITABLE})
    fields.setdefault("satisfied_from", satisfied_threshold(metric, scale, None))
    return fields


def changed_fields(metric: str, scale: Scale, body: Mapping[str, Any]) -> dict[str, Any]:
    """Validated columns for an update; metric and scale are fixed once created."""
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name in ("metric", "scale", "slug"):
            raise invalid(
                name, f"{name} can't change; create a new touchpoint instead", "immutable_field"
            )
        if name not in EDITABLE:
            raise invalid(name, f"unknown field {name!r}", "unknown_field")
        if name in TEXT_LIMITS:
            fields[name] = check_optional_text(value, name, TEXT_LIMITS[name])
        elif name == "locale":
            fields[name] = check_locale(value)
        elif name == "origins":
            fields[name] = list(check_origins(value))
        elif name == "cooldown_days":
            fields[name] = check_int(value, name, 0, MAX_COOLDOWN_DAYS)
        elif name == "active":
            if not isinstance(value, bool):
                raise invalid(name, "active must be true or false", "wrong_type")
            fields[name] = value
        elif name == "satisfied_from":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise invalid(name, f"{name} must be an integer", "wrong_type")
            try:  # one rule for the range, with one message
                fields[name] = satisfied_threshold(metric, scale, value)
            except ScaleError as error:
                raise _scale_problem(error) from None
    return fields
