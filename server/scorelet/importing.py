"""Historical ratings from a file (`scorelet import`): parsing and checking, no storage.

Three formats:

- `csv`: Scorelet's own CSV export, or any CSV with at least `score` and
  `created_at` columns. Other columns are context keys (`context.KEY` for a key
  named like a fixed column); empty cells are left out. A leading apostrophe
  that the export put before text a spreadsheet would run is taken off again.
- `ndjson`: Scorelet's own NDJSON export, one JSON object per line.
- `delighted`: survey responses as Delighted's API lists them
  (`GET /v1/survey_responses.json`): a JSON array, or one object per line, with
  `id`, `person`, `score`, `comment`, `created_at` and `updated_at` in epoch
  seconds, `person_properties` (become context, names made into context keys)
  and `tags`.

Every row gets a stable id, so importing the same file twice stores it once:
its own `id` column if it has one (a Scorelet export of a touchpoint by the
same name; another touchpoint's export gets ids derived from its own), else
one derived from an external id column (`--id-column`, Delighted's `id`),
else one derived from the row's content.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scorelet.errors import Problem
from scorelet.export import CSV_COLUMNS, DEFUSED_STARTS
from scorelet.routing.tags import TagError, check_tag
from scorelet.store import Response
from scorelet.store.records import timed_uuid
from scorelet.timeutil import parse_instant
from scorelet.touchpoints import Touchpoint
from scorelet.validation import (
    MAX_COMMENT,
    MAX_SUBJECT,
    check_context,
    check_optional_text,
    check_subject,
    check_text,
    check_uuid,
)

FORMATS = ("csv", "ndjson", "delighted")
MAX_TAGS = 20  # per imported rating
# Characters a context key can't hold: Delighted's "Purchase Experience" becomes
# "Purchase_Experience".
_NOT_KEY = re.compile(r"[^A-Za-z0-9_.-]+")


class RowError(ValueError):
    """A row that can't be imported: its line in the file, the field, what is wrong."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(f"line {line}: {field}: {message}")
        self.line = line
        self.field = field


@dataclass(frozen=True, slots=True)
class Imported:
    """One row, ready to store, with the tags it carried."""

    line: int
    rating: Response
    tags: tuple[str, ...]


def records(fmt: str, text: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line where the row starts, its fields) for every row of the file."""
    if fmt == "csv":
        yield from _csv_records(text)
    else:
        yield from _json_records(text)


def _csv_records(text: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise RowError(1, "header", str(error)) from None
    header = [name.strip() for name in header]
    if "score" not in header or "created_at" not in header:
        raise RowError(1, "header", "a CSV needs `score` and `created_at` columns")
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise RowError(start, "row", str(error)) from None
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            raise RowError(start, "row", f"{len(cells)} cells under {len(header)} columns")
        yield start, dict(zip(header, (_undefused(cell) for cell in cells), strict=True))


def _undefused(cell: str) -> str:
    """Take off the apostrophe the export puts before text a spreadsheet would run."""
    if cell.startswith("'") and cell[1:].startswith(DEFUSED_STARTS):
        return cell[1:]
    return cell


def _json_records(text: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    first = text.read(1)
    while first.isspace():
        first = text.read(1)
    if first == "[":  # one JSON array (Delighted's API listing)
        try:
            items = json.loads(first + text.read())
        except json.JSONDecodeError as error:
            raise RowError(error.lineno, "row", f"not JSON: {error.msg}") from None
        for n, item in enumerate(items, 1):
            yield n, _object(item, n)
        return
    line = 0
    for raw in _lines(first, text):
        line += 1
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as error:
            raise RowError(line, "row", f"not JSON: {error.msg}") from None
        yield line, _object(item, line)


def _lines(first: str, text: io.TextIOBase) -> Iterator[str]:
    rest = text.readline()
    yield first + rest
    yield from text


def _object(item: Any, line: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise RowError(line, "row", "each row must be a JSON object")
    return item


def parse(
    fmt: str, line: int, row: Mapping[str, Any], touchpoint: Touchpoint, id_column: str | None
) -> Imported:
    """A checked rating for `touchpoint` from one row; RowError names what is wrong."""
    try:
        if fmt == "delighted":
            return _delighted(line, row, touchpoint)
        return _scorelet(fmt, line, row, touchpoint, id_column)
    except Problem as problem:
        raise RowError(line, problem.field or "row", problem.detail) from None
    except TagError as error:
        raise RowError(line, error.field, str(error)) from None


def _scorelet(
    fmt: str, line: int, row: Mapping[str, Any], touchpoint: Touchpoint, id_column: str | None
) -> Imported:
    def value(name: str) -> Any:
        found = row.get(name)
        return None if found == "" else found

    score = _score(line, value("score"), touchpoint)
    created = _instant(line, "created_at", value("created_at"))
    updated = _instant(line, "updated_at", value("updated_at")) if value("updated_at") else created
    if updated < created:
        raise RowError(line, "updated_at", "updated_at is before created_at")
    comment = check_optional_text(value("comment"), "comment", MAX_COMMENT, multiline=True)
    subject = check_subject(value("subject")) if value("subject") is not None else None
    person = check_text(value("person"), "person", MAX_SUBJECT) if value("person") else None
    if fmt == "csv":
        fixed = {*CSV_COLUMNS, id_column}
        context = {
            name.removeprefix("context.") if name.startswith("context.") else name: cell
            for name, cell in row.items()
            if name not in fixed and cell != ""
        }
        tags = [t for t in (value("tags") or "").split(";") if t.strip()]
    else:
        context = row.get("context") or {}
        tags = [t.get("tag") if isinstance(t, dict) else t for t in row.get("tags") or []]
    context = check_context(context)
    if id_column is not None:
        external = value(id_column)
        if external is None:
            raise RowError(line, id_column, f"{id_column} (the id column) is empty")
        rating_id = derived_id(created, touchpoint.slug, str(external))
    elif value("id") is not None:
        rating_id = check_uuid(value("id"))
        source = value("touchpoint")
        if source is not None and source != touchpoint.slug:
            # Another touchpoint's export: its ids are that touchpoint's ratings (in this
            # database too, maybe), so these copies get ids of their own, the same each time.
            rating_id = derived_id(created, touchpoint.slug, f"{source}:{rating_id}")
    else:
        content = json.dumps([score, created, comment, subject, person, context], sort_keys=True)
        rating_id = derived_id(created, touchpoint.slug, content)
    rating = Response(
        id=rating_id,
        touchpoint_id=touchpoint.id,
        score=score,
        comment=comment,
        subject=subject,
        context=context,
        created_at=created,
        updated_at=updated,
        person=person,
    )
    return Imported(line, rating, _tags(line, tags))


def _delighted(line: int, row: Mapping[str, Any], touchpoint: Touchpoint) -> Imported:
    external = row.get("id")
    if external is None or external == "":
        raise RowError(line, "id", "id (Delighted's response id) is required")
    score = _score(line, row.get("score"), touchpoint)
    created = _instant(line, "created_at", row.get("created_at"))
    updated = created
    if row.get("updated_at") is not None:
        updated = max(created, _instant(line, "updated_at", row.get("updated_at")))
    comment = check_optional_text(row.get("comment"), "comment", MAX_COMMENT, multiline=True)
    person = row.get("person")
    if person is not None:
        person = check_text(str(person), "person", MAX_SUBJECT)
    properties = row.get("person_properties") or {}
    if not isinstance(properties, dict):
        raise RowError(line, "person_properties", "person_properties must be an object")
    context: dict[str, str] = {}
    for name, item in properties.items():
        key = _NOT_KEY.sub("_", str(name)).strip("_")
        if isinstance(item, dict | list):
            raise RowError(line, f"person_properties.{name}", "must be text or a number")
        if item is not None and item != "":
            context[key] = item if isinstance(item, str) else json.dumps(item)
    context = check_context(context, "person_properties")
    tags = row.get("tags") or []
    if not isinstance(tags, list):
        raise RowError(line, "tags", "tags must be a list")
    rating = Response(
        id=derived_id(created, touchpoint.slug, f"delighted:{external}"),
        touchpoint_id=touchpoint.id,
        score=score,
        comment=comment,
        subject=None,
        context=context,
        created_at=created,
        updated_at=updated,
        person=person,
    )
    return Imported(line, rating, _tags(line, tags))


def _score(line: int, value: Any, touchpoint: Touchpoint) -> int:
    scale = touchpoint.scale
    if value is None or value == "":
        raise RowError(line, "score", "score is required")
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(line, "score", f"score must be a whole number, not {str(value)[:20]!r}")
    if not scale.accepts(value):
        raise RowError(
            line,
            "score",
            f"score {value} is off {touchpoint.slug}'s {scale.name} scale"
            f" ({scale.low}-{scale.high})",
        )
    return value


def _instant(line: int, field: str, value: Any) -> float:
    if value is None or value == "":
        raise RowError(line, field, f"{field} is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RowError(line, field, f"{field} must be ISO 8601 or epoch seconds")
    try:
        return parse_instant(str(value))
    except ValueError as error:
        raise RowError(line, field, str(error)) from None


def _tags(line: int, names: list[Any]) -> tuple[str, ...]:
    if len(names) > MAX_TAGS:
        raise RowError(line, "tags", f"at most {MAX_TAGS} tags per rating")
    return tuple(dict.fromkeys(check_tag(name, "tags") for name in names))


def derived_id(created_at: float, slug: str, key: str) -> str:
    """A stable UUID (version 8, RFC 9562) for a row without one of ours: the rating's
    milliseconds first (so ids still sort by time), then 74 bits of a hash of what names
    it. The same row imported again gets the same id and is stored once."""
    digest = int.from_bytes(hashlib.sha256(f"{slug}\0{key}".encode()).digest()[:10])
    return timed_uuid(created_at, digest >> 6, version=8)  # 74 of the hash's 80 bits
