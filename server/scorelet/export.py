"""CSV and NDJSON lines for exported responses: pure formatting, no I/O.

CSV is for spreadsheets, so each context key (agent, team, channel ...) gets
a column of its own that a spreadsheet can filter on, after the fixed ones;
a key named like a fixed column is headed `context.KEY`. Tags go in one cell,
separated by "; ", and issues created for the rating by their URLs. The keys are the
touchpoint's, known before the first row (the store keeps them), so the
export still streams in constant memory. NDJSON keeps the context object.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from scorelet.store import Response

FORMATS = ("csv", "ndjson")
CSV_COLUMNS = (
    "id",
    "touchpoint",
    "score",
    "comment",
    "subject",
    "person",
    "created_at",
    "updated_at",
    "tags",
    "issues",
)
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
# A spreadsheet runs a cell starting with one of these as a formula (CSV
# injection): a comment like "=HYPERLINK(...)" would become a live link.
# Such cells get a leading apostrophe, which spreadsheets read as "text"; so does text
# that starts with an apostrophe itself, so `scorelet import` can take exactly one off.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DEFUSED_STARTS = (*FORMULA_STARTS, "'")


def context_column(key: str) -> str:
    return f"context.{key}" if key in CSV_COLUMNS else key


def header(fmt: str, keys: Sequence[str] = ()) -> str:
    """The CSV header: the fixed columns, then one per context key."""
    if fmt != "csv":
        return ""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([*CSV_COLUMNS, *(cell(context_column(k)) for k in keys)])
    return buffer.getvalue()


def lines(fmt: str, slug: str, responses: Iterable[Response], keys: Sequence[str] = ()) -> str:
    """One CSV row or JSON line per response.

    NDJSON carries every value as given; CSV, meant for spreadsheets, defuses
    text that a spreadsheet would run as a formula (see `cell`).
    """
    if fmt == "ndjson":
        return "".join(
            json.dumps(r.public(slug), ensure_ascii=False, separators=(",", ":")) + "\n"
            for r in responses
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for r in responses:
        row: dict[str, Any] = dict(r.public(slug))
        row["tags"] = "; ".join(tag.name for tag in r.tags)
        row["issues"] = " ".join(issue.url for issue in r.issues)
        context = row["context"]
        writer.writerow(
            [*(cell(row[column]) for column in CSV_COLUMNS), *(cell(context.get(k)) for k in keys)]
        )
    return buffer.getvalue()


def cell(value: object) -> object:
    """A CSV cell: empty for null, text that could run as a formula defused."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(DEFUSED_STARTS):
        return "'" + value
    return value
