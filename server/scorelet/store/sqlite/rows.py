"""Turning SQLite rows into the store's records, and records into column values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scorelet.rollups import Counted
from scorelet.store.columns import (
    KEY_COLUMNS,
    TOUCHPOINT_COLUMNS,
    USER_COLUMNS,
    key_from_row,
    touchpoint_from_row,
    user_from_row,
)
from scorelet.store.records import Response

__all__ = [
    "COUNTED_COLUMNS",
    "KEY_COLUMNS",
    "RESPONSE_COLUMNS",
    "ROW_COLUMNS",
    "TOUCHPOINT_COLUMNS",
    "USER_COLUMNS",
    "StoredRow",
    "counted",
    "encode_context",
    "key_from_row",
    "response_from_row",
    "stored_row",
    "touchpoint_from_row",
    "user_from_row",
]

# Contexts are stored compact; json.dumps with options would build an encoder per call.
_CONTEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

RESPONSE_COLUMNS = (
    "id, touchpoint_id, score, comment, subject, context, created_at, updated_at, shown, person"
)
ROW_COLUMNS = "seq, " + RESPONSE_COLUMNS
# A version of a rating as rollups count it (responses and undone rows alike).
COUNTED_COLUMNS = "touchpoint_id, created_at, score, context, shown"


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A rating with its place in the change sequence."""

    seq: int
    response: Response


def context_path(key: str) -> str:
    """The JSON path of a context key (keys are letters, digits, '_', '.', '-': quoted)."""
    return f'$."{key}"'


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
        person=row[9],
    )


def stored_row(row: tuple[Any, ...]) -> StoredRow:
    return StoredRow(row[0], response_from_row(row[1:]))


def counted(row: tuple[Any, ...]) -> Counted:
    context = json.loads(row[3]) if row[3] != "{}" else {}
    return Counted(row[0], row[1], row[2], context, bool(row[4]))
