"""Tags and issues on ratings: applying rules in a rating's write, manual tags, backfills,
and the counts by tag.

Counting by tag reads `response_tags` through its covering index
(touchpoint, tag, created_at, score) rather than a rollup: tags are sparse
(a rule tags the ratings it matches, not every rating) and change after the
fact (by hand, when a comment changes, by a backfill), which a folded rollup
would have to undo version by version. The index answers any window
exactly at every instant, at a cost in proportion to the tagged ratings in
it (bench/tags.py measures it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from scorelet.routing.table import Table
from scorelet.store import routing
from scorelet.store.errors import NotFound
from scorelet.store.records import Backfilled, IssueLink, Response, Tag, time_ordered_id
from scorelet.store.sqlite.rows import RESPONSE_COLUMNS, context_path, response_from_row
from scorelet.store.sqlite.threads import Tx

Counts = dict[int, int]
TAG_INSERT = (
    "INSERT INTO response_tags (response_id, tag, touchpoint_id, created_at, score, source, rule,"
    " matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
DELIVERY_INSERT = (
    "INSERT INTO deliveries (id, destination_id, kind, rule, event, response_id, state, held,"
    " due_at, created_at, updated_at)"
)
DELIVERY_VALUES = "(?, ?, 'rating', ?, ?, ?, 'pending', ?, ?, ?, ?)"


def annotate(conn: sqlite3.Connection, responses: list[Response]) -> list[Response]:
    """The ratings with their tags and issues, read in two queries for the whole page."""
    if not responses:
        return responses
    ids = [response.id for response in responses]
    marks = ", ".join("?" for _ in ids)
    tags: dict[str, list[Tag]] = {}
    for row in conn.execute(
        f"SELECT response_id, tag, source, rule, matched FROM response_tags"
        f" WHERE response_id IN ({marks}) ORDER BY response_id, tag",
        ids,
    ):
        tags.setdefault(row[0], []).append(routing.tag_from_row(row[1:]))
    issues: dict[str, list[IssueLink]] = {}
    for response_id, destination, identifier, url in conn.execute(
        f"SELECT response_id, destination, identifier, url FROM response_issues"
        f" WHERE response_id IN ({marks}) ORDER BY created_at",
        ids,
    ):
        issues.setdefault(response_id, []).append(IssueLink(destination, identifier, url))
    return routing.with_annotations(responses, tags, issues)


def tags_of(conn: sqlite3.Connection, response_id: str) -> list[Tag]:
    return [
        routing.tag_from_row(row)
        for row in conn.execute(
            "SELECT tag, source, rule, matched FROM response_tags WHERE response_id = ?"
            " ORDER BY tag",
            (response_id,),
        )
    ]


def mark(conn: sqlite3.Connection, touchpoint_id: int) -> None:
    """Tags or issues changed outside a rating's write: other processes' caches look again."""
    conn.execute(
        "INSERT INTO annotation_marks (touchpoint_id, mark) VALUES (?, 1)"
        " ON CONFLICT DO UPDATE SET mark = annotation_marks.mark + 1",
        (touchpoint_id,),
    )


# -- in a rating's own write -------------------------------------------------------------------


def route(
    conn: sqlite3.Connection,
    tx: Tx,
    table: Table,
    response: Response,
    event: str,
    now: float,
    existing: Sequence[Tag] = (),
) -> Response:
    """Apply the rules to a rating as stored: its rule tags and its deliveries, in its write
    (store/routing.py decides which tags go and come)."""
    routed = routing.route(table, response, event, existing)
    if routed.retag:
        conn.executemany(
            "DELETE FROM response_tags WHERE response_id = ? AND source = 'rule' AND rule = ?",
            [(response.id, name) for name in routed.decision.evaluated],
        )
    if routed.added:
        conn.executemany(
            TAG_INSERT,
            [
                (
                    response.id,
                    tag.name,
                    response.touchpoint_id,
                    response.created_at,
                    response.score,
                    "rule",
                    tag.rule,
                    routing.matched_json(tag),
                )
                for tag in routed.added
            ],
        )
    for notice in routed.notices:
        destination_id = table.destinations.get(notice.destination)
        if destination_id is None:  # removed meanwhile; rules naming it can't be stored
            continue
        tx.later(  # with the batch's other deliveries, before it commits
            DELIVERY_INSERT,
            DELIVERY_VALUES,
            (
                time_ordered_id(now),
                destination_id,
                notice.rule,
                event,
                response.id,
                bool(notice.wait),
                now + notice.wait,
                now,
                now,
            ),
        )
    if event != "created" and response.comment and table.waits:
        release(conn, tx, response.id, now)
    return routed.tagged(response)


def release(conn: sqlite3.Connection, tx: Tx, response_id: str, now: float) -> None:
    """The comment came: deliveries waiting for it go out now."""
    tx.flush()
    conn.execute(
        "UPDATE deliveries SET held = 0, due_at = ?, updated_at = ?"
        " WHERE response_id = ? AND held = 1 AND state = 'pending'",
        (now, now, response_id),
    )


def forget(conn: sqlite3.Connection, response_id: str) -> None:
    """A deleted rating takes its tags, issues and unsent deliveries with it (the sent ones'
    rows stay in the outbox's history: ids and answers, nothing the rater wrote)."""
    for table in ("response_tags", "response_issues"):
        conn.execute(f"DELETE FROM {table} WHERE response_id = ?", (response_id,))
    conn.execute(  # through the index of unsent deliveries
        "DELETE FROM deliveries WHERE state IN ('pending', 'failed') AND response_id = ?",
        (response_id,),
    )


def forget_touchpoint(conn: sqlite3.Connection, touchpoint_id: int) -> None:
    conn.execute(
        "DELETE FROM deliveries WHERE response_id IN"
        " (SELECT id FROM responses WHERE touchpoint_id = ?)",
        (touchpoint_id,),
    )
    for table in ("response_tags", "response_issues", "annotation_marks"):
        conn.execute(f"DELETE FROM {table} WHERE touchpoint_id = ?", (touchpoint_id,))


# -- by hand and by backfill -----------------------------------------------------------------


def _rating(conn: sqlite3.Connection, response_id: str) -> Response:
    row = conn.execute(
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = ?", (response_id,)
    ).fetchone()
    if row is None:
        raise NotFound("response", response_id)
    return response_from_row(row)


def add_tag(conn: sqlite3.Connection, tx: Tx, response_id: str, tag: str, now: float) -> Response:
    """Tag a rating by hand; a rule's tag of the same name becomes a manual one."""
    rating = _rating(conn, response_id)
    with tx.atomic():
        conn.execute(
            "DELETE FROM response_tags WHERE response_id = ? AND tag = ?", (response_id, tag)
        )
        conn.execute(
            TAG_INSERT,
            (
                response_id,
                tag,
                rating.touchpoint_id,
                rating.created_at,
                rating.score,
                "manual",
                None,
                "[]",
            ),
        )
        mark(conn, rating.touchpoint_id)
    return annotate(conn, [rating])[0]


def remove_tag(conn: sqlite3.Connection, tx: Tx, response_id: str, tag: str) -> Response:
    rating = _rating(conn, response_id)
    with tx.atomic():
        cursor = conn.execute(
            "DELETE FROM response_tags WHERE response_id = ? AND tag = ?", (response_id, tag)
        )
        if cursor.rowcount == 0:
            raise routing.tag_not_found(tag)
        mark(conn, rating.touchpoint_id)
    return annotate(conn, [rating])[0]


def backfill(
    conn: sqlite3.Connection,
    tx: Tx,
    table: Table,
    rule_name: str,
    since: float | None,
    cursor: int,
    limit: int,
) -> Backfilled:
    """Apply one tagging rule to the next `limit` stored ratings after `cursor` (their seq),
    as if each had just been given (event `created`); manual tags are kept."""
    only = routing.backfilled_rule(table, rule_name)
    rows = conn.execute(
        f"SELECT seq, {RESPONSE_COLUMNS} FROM responses WHERE seq > ?"
        + (" AND created_at >= ?" if since is not None else "")
        + " ORDER BY seq LIMIT ?",
        (cursor, since, limit) if since is not None else (cursor, limit),
    ).fetchall()
    tagged = 0
    touched: set[int] = set()
    with tx.atomic():
        for row in rows:
            rating = response_from_row(row[1:])
            before = tags_of(conn, rating.id)
            after = route(conn, tx, only, rating, "created", rating.created_at, before)
            if any(t.rule == rule_name for t in after.tags):
                tagged += 1
            if after.tags != tuple(before):
                touched.add(rating.touchpoint_id)
        for touchpoint_id in touched:
            mark(conn, touchpoint_id)
    last = rows[-1][0] if len(rows) == limit else None
    return Backfilled(len(rows), tagged, last, tuple(sorted(touched)))


def add_issue(
    conn: sqlite3.Connection, delivery_id: str, response: Response, issue: IssueLink, now: float
) -> None:
    conn.execute(
        "INSERT INTO response_issues (delivery_id, response_id, touchpoint_id, destination,"
        " identifier, url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            delivery_id,
            response.id,
            response.touchpoint_id,
            issue.destination,
            issue.identifier,
            issue.url,
            now,
        ),
    )
    mark(conn, response.touchpoint_id)


def restore(conn: sqlite3.Connection, ratings: Sequence[Response]) -> None:
    """Imported ratings keep the tags and issues they carry (a copy from another database)."""
    conn.executemany(
        TAG_INSERT,
        [row for rating in ratings for row in routing.tag_rows(rating)],
    )
    conn.executemany(
        "INSERT INTO response_issues (delivery_id, response_id, touchpoint_id, destination,"
        " identifier, url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [row for rating in ratings for row in routing.issue_rows(rating)],
    )


# -- counting by tag -----------------------------------------------------------------------------


def _where(
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str | None,
) -> tuple[str, list[Any]]:
    """Tagged ratings in a window; context filters look at the rating's row."""
    sql = "t.touchpoint_id = ?"
    args: list[Any] = [touchpoint_id]
    if tag is not None:
        sql += " AND t.tag = ?"
        args.append(tag)
    if since is not None:
        sql += " AND t.created_at >= ?"
        args.append(since)
    if until is not None:
        sql += " AND t.created_at < ?"
        args.append(until)
    for key, value in filters.items():
        sql += " AND json_extract(r.context, ?) = ?"
        args += [context_path(key), value]
    return sql, args


def _join(filters: Mapping[str, str]) -> str:
    return " JOIN responses r ON r.id = t.response_id" if filters else ""


def tagged_counts(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    tag: str,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> Counts:
    where, args = _where(touchpoint_id, since, until, filters, tag)
    rows = conn.execute(
        f"SELECT t.score, count(*) FROM response_tags t{_join(filters)} WHERE {where}"
        " GROUP BY t.score",
        args,
    )
    return dict(rows.fetchall())


def by_tag(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> dict[str, Counts]:
    """Score counts per tag in a window (a rating with two tags counts in both)."""
    where, args = _where(touchpoint_id, since, until, filters, None)
    groups: dict[str, Counts] = {}
    for tag, score, count in conn.execute(
        f"SELECT t.tag, t.score, count(*) FROM response_tags t{_join(filters)} WHERE {where}"
        " GROUP BY t.tag, t.score",
        args,
    ):
        groups.setdefault(tag, {})[score] = count
    return groups


def tag_series(
    conn: sqlite3.Connection,
    touchpoint_id: int,
    buckets: Sequence[tuple[float, float]],
    filters: Mapping[str, str],
    tag: str | None,
) -> list[dict[str, int]]:
    """Ratings per tag in each [start, end) bucket, read in one query over the whole span."""
    if not buckets:
        return []
    where, args = _where(touchpoint_id, buckets[0][0], buckets[-1][1], filters, None)
    if tag is not None:  # a tag filter: counts of the other tags those ratings carry
        where += " AND t.response_id IN (SELECT response_id FROM response_tags WHERE tag = ?)"
        args.append(tag)
    rows = conn.execute(
        f"SELECT t.tag, t.created_at FROM response_tags t{_join(filters)} WHERE {where}", args
    )
    return routing.bucket_tags(buckets, rows)
