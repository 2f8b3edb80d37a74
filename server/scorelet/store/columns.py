"""Column values of touchpoints and keys, the same in every backend's tables.

Origins and per-group prompts are stored as JSON text, `active` as a
boolean (SQLite keeps it as 0/1), times as epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scorelet.scales import parse_scale
from scorelet.store.records import ApiKey, User
from scorelet.touchpoints import GROUPS, Touchpoint, prompts_from_json

TOUCHPOINT_COLUMNS = (
    "id, slug, metric, scale, question, low_label, high_label, comment_prompt, thank_you, locale,"
    " origins, satisfied_from, cooldown_days, active, token_version, created_at, updated_at,"
    " brand_name, brand_logo, brand_accent, comment_prompts, recontact_days, redisplay_days,"
    " max_displays, sample, min_days_since_signup, anniversary_window, trigger,"
    " require_identity, ignore_global_throttle"
)
KEY_COLUMNS = "id, name, scope, hash, created_at, revoked_at"
USER_COLUMNS = "id, email, role, password_hash, session_version, created_at, updated_at"
USER_FIELDS = frozenset({"password_hash", "role"})  # what `update_user` may change


def touchpoint_from_row(row: tuple[Any, ...] | Any) -> Touchpoint:
    values = list(row)
    values[3] = parse_scale(values[3])
    values[10] = tuple(json.loads(values[10]))
    values[13] = bool(values[13])
    values[20] = prompts_from_json(values[2], values[20])
    values[28] = bool(values[28])
    values[29] = bool(values[29])
    return Touchpoint(*values)


def key_from_row(row: tuple[Any, ...] | Any) -> ApiKey:
    return ApiKey(*row)


def user_from_row(row: tuple[Any, ...] | Any) -> User:
    return User(*row)


def user_values(user: User) -> tuple[Any, ...]:
    """An account's column values, in USER_COLUMNS order."""
    return (
        user.id,
        user.email,
        user.role,
        user.password_hash,
        user.session_version,
        user.created_at,
        user.updated_at,
    )


def touchpoint_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated touchpoint fields (touchpoints.py) as column values."""
    encoded = dict(fields)
    if "origins" in encoded:
        encoded["origins"] = json.dumps(list(encoded["origins"]))
    if "comment_prompts" in encoded:
        encoded["comment_prompts"] = json.dumps(encoded["comment_prompts"], ensure_ascii=False)
    for flag in ("active", "require_identity", "ignore_global_throttle"):
        if flag in encoded:
            encoded[flag] = bool(encoded[flag])
    return encoded


def touchpoint_row(touchpoint: Touchpoint) -> dict[str, Any]:
    """Every column of a touchpoint but its id, as stored (a copy keeps them all)."""
    names = [name.strip() for name in TOUCHPOINT_COLUMNS.split(",")][1:]
    values = {name: getattr(touchpoint, name) for name in names}
    values["scale"] = touchpoint.scale.name
    values["comment_prompts"] = {
        group: prompt
        for group, prompt in zip(GROUPS[touchpoint.metric], touchpoint.comment_prompts, strict=True)
        if prompt is not None
    }
    return touchpoint_values(values)
