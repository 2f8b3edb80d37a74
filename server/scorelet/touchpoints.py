"""Touchpoints: what one is, and the rules for creating and changing one.

`settings_from` turns loosely typed input (JSON bodies, CLI flags) into
validated column values; the store writes them and returns `Touchpoint`s.
Text fields left unset (None) mean "use the widget's built-in wording in the
visitor's language".
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scorelet.brand import (
    ACCENT,
    LOGO_TAIL,
    MAX_LOGO_URL,
    MAX_NAME,
    Brand,
    BrandError,
    check_accent,
    check_logo,
)
from scorelet.eligibility import (
    EVENT_NAME,
    LOAD,
    MAX_DAYS,
    MAX_DISPLAYS,
    MAX_WINDOW,
    Policy,
    check_trigger,
)
from scorelet.errors import Problem, invalid
from scorelet.scales import Scale, ScaleError, satisfied_threshold, scale_for
from scorelet.shapes import Check, Shape, about
from scorelet.validation import (
    DNS_HOST,
    LINE_PATTERN,
    LOCALE,
    MAX_ORIGINS,
    PORT_PATTERN,
    check_int,
    check_locale,
    check_optional_text,
    check_origins,
    check_slug,
    only_fields,
)

if TYPE_CHECKING:
    from scorelet.views import TouchpointFields

TEXT_LIMITS = {
    "question": 300,
    "low_label": 60,
    "high_label": 60,
    "comment_prompt": 300,
    "thank_you": 300,
}
MAX_COOLDOWN_DAYS = 3650
BRAND_FIELDS = ("brand_name", "brand_logo", "brand_accent")
# When to ask (eligibility.py): whole days, optional limits, a sample, a trigger, two flags.
DAY_FIELDS = ("recontact_days", "redisplay_days", "min_days_since_signup")
OPTIONAL_LIMITS = {"max_displays": (1, MAX_DISPLAYS), "anniversary_window": (0, MAX_WINDOW)}
FLAGS = ("require_identity", "ignore_global_throttle")
POLICY_FIELDS = (*DAY_FIELDS, *OPTIONAL_LIMITS, "sample", "trigger", *FLAGS)
EDITABLE = frozenset(
    {
        *TEXT_LIMITS,
        *BRAND_FIELDS,
        *POLICY_FIELDS,
        "comment_prompts",
        "locale",
        "origins",
        "satisfied_from",
        "cooldown_days",
        "active",
    }
)
CREATABLE = EDITABLE | {"slug", "metric", "scale"}
# Follow-up prompts by how the score went: CSAT's low / neutral / high (satisfied, the
# score just below, the rest) and NPS's detractor / passive / promoter (0-6, 7-8, 9-10).
GROUPS = {"csat": ("low", "neutral", "high"), "nps": ("detractor", "passive", "promoter")}
Prompts = tuple[str | None, str | None, str | None]
NO_PROMPTS: Prompts = (None, None, None)


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
    brand_name: str | None = None
    brand_logo: str | None = None
    brand_accent: str | None = None
    comment_prompts: Prompts = NO_PROMPTS
    recontact_days: int = 0
    redisplay_days: int = 0
    max_displays: int | None = None
    sample: float = 100.0
    min_days_since_signup: int = 0
    anniversary_window: int | None = None
    trigger: str = LOAD
    require_identity: bool = False
    ignore_global_throttle: bool = False

    @property
    def brand(self) -> Brand:
        return Brand(self.brand_name, self.brand_logo, self.brand_accent)

    @property
    def policy(self) -> Policy:
        """When to ask (see eligibility.py)."""
        names = (spec.name for spec in dataclasses.fields(Policy))
        return Policy(**{name: getattr(self, name) for name in names})

    @property
    def group_bounds(self) -> tuple[int, int]:
        """The lowest score of the middle group and of the top group."""
        if self.metric == "nps":
            return 7, 9
        assert self.satisfied_from is not None
        return self.satisfied_from - 1, self.satisfied_from

    def group(self, score: int) -> int:
        """0, 1 or 2: low/detractor, neutral/passive, high/promoter."""
        middle, top = self.group_bounds
        return 2 if score >= top else 1 if score >= middle else 0

    def comment_prompt_for(self, score: int) -> str | None:
        """The touchpoint's own follow-up question for this score; None: the built-in one."""
        return self.comment_prompts[self.group(score)] or self.comment_prompt

    def public(self) -> TouchpointFields:
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
            "comment_prompts": dict(zip(GROUPS[self.metric], self.comment_prompts, strict=True)),
            "brand_name": self.brand_name,
            "brand_logo": self.brand_logo,
            "brand_accent": self.brand_accent,
            "recontact_days": self.recontact_days,
            "redisplay_days": self.redisplay_days,
            "max_displays": self.max_displays,
            "sample": self.sample,
            "min_days_since_signup": self.min_days_since_signup,
            "anniversary_window": self.anniversary_window,
            "trigger": self.trigger,
            "require_identity": self.require_identity,
            "ignore_global_throttle": self.ignore_global_throttle,
        }


def group_range(touchpoint: Touchpoint, group: str) -> tuple[int, int]:
    """The scores of a group (`promoter`, `low` ...) of a touchpoint, lowest and highest."""
    groups = GROUPS[touchpoint.metric]
    if group not in groups:
        raise ValueError(
            f"group must be one of {', '.join(groups)} for {touchpoint.metric.upper()}"
        )
    middle, top = touchpoint.group_bounds
    scale = touchpoint.scale
    low, high = [(scale.low, middle - 1), (middle, top - 1), (top, scale.high)][groups.index(group)]
    return low, high


def prompts_from_json(metric: str, text: str) -> Prompts:
    """The stored `{"low": ...}` object as a tuple in group order (hashable, for caches)."""
    stored = json.loads(text)
    low, middle, high = (stored.get(name) for name in GROUPS[metric])
    return low, middle, high


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
    for name in body:
        if name in ("metric", "scale", "slug"):
            raise invalid(
                name, f"{name} can't change; create a new touchpoint instead", "immutable_field"
            )
    fields = SETTINGS.given(body)
    if "comment_prompts" in fields:
        fields["comment_prompts"] = _check_prompts(metric, fields["comment_prompts"])
    if "satisfied_from" in fields:
        try:  # one rule for the range, with one message
            fields["satisfied_from"] = satisfied_threshold(metric, scale, fields["satisfied_from"])
        except ScaleError as error:
            raise _scale_problem(error) from None
    return fields


def _text(limit: int) -> Check:
    def check(value: str, name: str) -> str | None:
        return check_optional_text(value, name, limit)

    return check


def _whole(low: int, high: int) -> Check:
    def check(value: int, name: str) -> int:
        return check_int(value, name, low, high)

    return check


def _origins(value: list[str], name: str) -> list[str]:
    return list(check_origins(value, name))


def _trigger(value: str, name: str) -> str:
    try:
        return check_trigger(value)
    except ValueError as error:
        raise invalid(name, str(error)) from None


def _sample(value: float, name: str) -> float:
    """A percentage of people from 0.01 to 100, kept to two decimals (25, 2.5, 33.33)."""
    if not 0.01 <= value <= 100:
        raise invalid(
            name, f"{name} must be a percent from 0.01 to 100, e.g. 25 or 2.5", "out_of_range"
        )
    return round(float(value), 2)


def _brand(value: str, name: str) -> str | None:
    """A logo URL or accent colour; empty means none (the product name is plain text)."""
    text = check_optional_text(value, name, MAX_LOGO_URL)
    if text is None:
        return text
    try:
        return check_accent(text, name) if name == "brand_accent" else check_logo(text, name)
    except BrandError as error:
        raise invalid(error.field, str(error)) from None


def _check_prompts(metric: str, value: dict[str, Any]) -> dict[str, str]:
    """Per-group prompts, e.g. {"low": "What went wrong?"}; a group left out uses the default."""
    groups = GROUPS[metric]
    prompts = {}
    for group, text in value.items():
        if group not in groups:
            raise invalid(
                f"comment_prompts.{str(group)[:20]}",
                f"a {metric.upper()} touchpoint's prompt groups are {', '.join(groups)}",
                "unknown_field",
            )
        checked = check_optional_text(
            text, f"comment_prompts.{group}", TEXT_LIMITS["comment_prompt"]
        )
        if checked is not None:
            prompts[group] = checked
    return prompts


def _line(limit: int, description: str = "") -> dict[str, Any]:
    return about(description, _text(limit), maxLength=limit, pattern=LINE_PATTERN)


def _days(description: str) -> dict[str, Any]:
    return about(description, _whole(0, MAX_DAYS), minimum=0, maximum=MAX_DAYS)


# Hosts as the JSON Schema spells them: a part of what the URL checks accept.
_ORIGIN = f"^https?://{DNS_HOST.pattern}(?::{PORT_PATTERN})?/?$"
_LOGO = f"^(?:https?://{DNS_HOST.pattern}(?::{PORT_PATTERN})?(?:[/?#]{LOGO_TAIL}*)?)?$"
_ALL_GROUPS = [group for groups in GROUPS.values() for group in groups]


@dataclass(frozen=True, slots=True)
class TouchpointSettings:
    """What a touchpoint's body may set (`POST` and `PATCH /api/v1/touchpoints`, the CLI's
    flags, the dashboard's form), read by `SETTINGS.given` (never built: the defaults are
    Touchpoint's): left out, a setting keeps its value; null clears the ones that take it.
    `satisfied_from` and `comment_prompts` are checked against the metric and scale after."""

    question: str | None = field(metadata=_line(TEXT_LIMITS["question"]))
    low_label: str | None = field(metadata=_line(TEXT_LIMITS["low_label"]))
    high_label: str | None = field(metadata=_line(TEXT_LIMITS["high_label"]))
    comment_prompt: str | None = field(metadata=_line(TEXT_LIMITS["comment_prompt"]))
    thank_you: str | None = field(metadata=_line(TEXT_LIMITS["thank_you"]))
    locale: str | None = field(
        metadata=about(
            "the widget's language; null: the visitor's",
            check_locale,
            maxLength=35,
            pattern=LOCALE.pattern,
        ),
    )
    origins: list[str] = field(
        metadata=about(
            "where the widget may be embedded; empty: anywhere",
            _origins,
            expects="a list of origins",
            maxItems=MAX_ORIGINS,
            items={"pattern": _ORIGIN},
        ),
    )
    satisfied_from: int | None = field(
        metadata=about("CSAT: the lowest satisfied score; null: the scale's")
    )
    cooldown_days: int = field(
        metadata=about(
            "days before the same browser is asked again",
            _whole(0, MAX_COOLDOWN_DAYS),
            minimum=0,
            maximum=MAX_COOLDOWN_DAYS,
        ),
    )
    active: bool = field(metadata=about("false: the widget shows nothing"))
    comment_prompts: dict[str, str] = field(
        metadata=about(
            "follow-up question per group of scores: low, neutral, high (CSAT) or"
            " detractor, passive, promoter (NPS); null or left out: the built-in one",
            expects='an object of prompts by group, e.g. {"low": "What went wrong?"}',
            propertyNames={"enum": _ALL_GROUPS},
            additionalProperties={
                "type": ["string", "null"],
                "maxLength": TEXT_LIMITS["comment_prompt"],
                "pattern": LINE_PATTERN,
            },
        ),
    )
    brand_name: str | None = field(metadata=_line(MAX_NAME, "product name on the hosted page"))
    brand_logo: str | None = field(
        metadata=about(
            "logo image URL (http or https); empty or null: none",
            _brand,
            maxLength=MAX_LOGO_URL,
            pattern=_LOGO,
        ),
    )
    brand_accent: str | None = field(
        metadata=about(
            "the hosted page's accent colour, #rgb or #rrggbb",
            _brand,
            pattern=f"^(?:{ACCENT.pattern[1:-1]})?$",
        ),
    )
    recontact_days: int = field(metadata=_days("after an answer, wait N days (0: off)"))
    redisplay_days: int = field(metadata=_days("after a close or unanswered display"))
    max_displays: int | None = field(
        metadata=about("at most N times", _whole(1, MAX_DISPLAYS), minimum=1, maximum=MAX_DISPLAYS),
    )
    sample: float = field(
        metadata=about(
            "percent of people asked (stable per person), kept to two decimals",
            _sample,
            expects="a number: the percent of people asked",
            minimum=0.01,
            maximum=100,
        ),
    )
    min_days_since_signup: int = field(metadata=_days("needs the signed_up_at trait"))
    anniversary_window: int | None = field(
        metadata=about(
            "ask within N days of each signup anniversary",
            _whole(0, MAX_WINDOW),
            minimum=0,
            maximum=MAX_WINDOW,
        ),
    )
    trigger: str = field(
        metadata=about(
            'load, or event:NAME for Scorelet("track", NAME)',
            _trigger,
            expects="a string: load or event:NAME",
            pattern=f"^(load|event:{EVENT_NAME.pattern[1:-1]})$",
        ),
    )
    require_identity: bool = field(metadata=about("ask identified people only"))
    ignore_global_throttle: bool = field(
        metadata=about("ask even within the install-wide recontact days")
    )


SETTINGS = Shape(TouchpointSettings, "TouchpointSettings", partial=True)
