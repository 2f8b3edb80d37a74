"""Turning SQLite rows into the store's records, and records into column values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scorelet.rollups import Counted
from scorelet.scales import parse_scale
from scorelet.store.records import ApiKey, Response
from scorelet.touchpoints import Touchpoint, prompts_from_json

# Contexts are stored compact; json.dumps with options would build an encoder per call.
_CONTEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

RESPONSE_COLUMNS = (
    "id, touchpoint_id, score, comment, subject, context, created_at, updated_at, shown, person"
)
ROW_COLUMNS = "seq, " + RESPONSE_COLUMNS
TOUCHPOINT_COLUMNS = (
    "id, slug, metric, scale, question, low_label, high_label, comment_prompt, thank_you, locale,"
    " origins, satisfied_from, cooldown_days, active, token_version, created_at, updated_at,"
    " brand_name, brand_logo, brand_accent, comment_prompts, recontact_days, redisplay_days,"
    " max_displays, sample, min_days_since_signup, anniversary_window, trigger,"
    " require_identity, ignore_global_throttle"
)
KEY_COLUMNS = "id, name, scope, hash, created_at, revoked_at"
# A version of a rating as rollups count it (responses and undone rows alike).
COUNTED_COLUMNS = "touchpoint_id, created_at, score, context, shown"


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A rating with its place in the change sequence."""

    seq: int
    response: Response


def encode_context(context: Mapping[str, str]) -> str:
    return _CONTEXT.encode(dict(context)) if context else "{}"


def response_from_row(row: tuple[Any, ...]) -> Response:
    return Response(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        json.loads(row[5]),
        row[6],
        row[7],
        bool(row[8]),
        row[9],
    )


def stored_row(row: tuple[Any, ...]) -> StoredRow:
    return StoredRow(row[0], response_from_row(row[1:]))


def counted(row: tuple[Any, ...]) -> Counted:
    context = json.loads(row[3]) if row[3] != "{}" else {}
    return Counted(row[0], row[1], row[2], context, bool(row[4]))


def touchpoint_from_row(row: tuple[Any, ...]) -> Touchpoint:
    values = list(row)
    values[3] = parse_scale(values[3])
    values[10] = tuple(json.loads(values[10]))
    values[13] = bool(values[13])
    values[20] = prompts_from_json(values[2], values[20])
    values[28] = bool(values[28])
    values[29] = bool(values[29])
    return Touchpoint(*values)


def key_from_row(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(*row)
