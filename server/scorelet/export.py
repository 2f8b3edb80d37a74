"""CSV and NDJSON lines for exported responses: pure formatting, no I/O."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from scorelet.store import Response

FORMATS = ("csv", "ndjson")
CSV_COLUMNS = (
    "id",
    "touchpoint",
    "score",
    "comment",
    "subject",
    "context",
    "created_at",
    "updated_at",
)
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
# A spreadsheet runs a cell starting with one of these as a formula (CSV
# injection): a comment like "=HYPERLINK(...)" would become a live link.
# Such cells get a leading apostrophe, which spreadsheets read as "text".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def header(fmt: str) -> str:
    if fmt == "csv":
        return ",".join(CSV_COLUMNS) + "\r\n"
    return ""


def lines(fmt: str, slug: str, responses: Iterable[Response]) -> str:
    """One CSV row or JSON line per response; context is a JSON object in CSV.

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
        row = r.public(slug)
        row["context"] = json.dumps(row["context"], ensure_ascii=False, separators=(",", ":"))
        writer.writerow([cell(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def cell(value: object) -> object:
    """A CSV cell: empty for null, text that could run as a formula defused."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
