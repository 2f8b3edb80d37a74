"""Tags and issues on ratings on PostgreSQL: rules applied in a rating's own write, manual
tags, backfills, and the counts by tag.

As on SQLite (store/sqlite/tags.py), counting by tag reads `response_tags`
through its covering index rather than a rollup, so a count is exact at
every instant with nothing to fold. What differs is that other processes
write too: a manual tag locks its rating's row (`FOR UPDATE`), so it and a
comment's retagging of the same rating take turns, and every change made
outside a rating's own write bumps `annotation_marks`, which the others
read in their next snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from scorelet.routing.table import Table
from scorelet.store import routing
from scorelet.store.errors import NotFound
from scorelet.store.interface import Counts, Snapshot
from scorelet.store.postgres import reads, writes
from scorelet.store.postgres.connection import Connection
from scorelet.store.postgres.reads import RESPONSE_COLUMNS, all_rows, response_from_row
from scorelet.store.postgres.routing import RoutingCache, bump
from scorelet.store.records import (
    Backfilled,
    IssueLink,
    NewResponse,
    Response,
    ResponseQuery,
    Tag,
    time_ordered_id,
)
from scorelet.touchpoints import Touchpoint

TAG_INSERT = (
    "INSERT INTO response_tags (response_id, tag, touchpoint_id, created_at, score, source, rule,"
    " matched) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
DELIVERY_INSERT = (
    "INSERT INTO deliveries (id, destination_id, kind, rule, event, response_id, state, held,"
    " due_at, created_at, updated_at)"
    " VALUES (%s, %s, 'rating', %s, %s, %s, 'pending', %s, %s, %s, %s)"
)


async def annotate(conn: Connection, responses: list[Response]) -> list[Response]:
    """The ratings with their tags and issues, read in two queries for the whole page."""
    if not responses:
        return responses
    ids = [response.id for response in responses]
    tags: dict[str, list[Tag]] = {}
    for row in await all_rows(
        conn,
        "SELECT response_id, tag, source, rule, matched FROM response_tags"
        " WHERE response_id = ANY(%s) ORDER BY response_id, tag",
        (ids,),
    ):
        tags.setdefault(row[0], []).append(routing.tag_from_row(row[1:]))
    issues: dict[str, list[IssueLink]] = {}
    for response_id, destination, identifier, url in await all_rows(
        conn,
        "SELECT response_id, destination, identifier, url FROM response_issues"
        " WHERE response_id = ANY(%s) ORDER BY created_at",
        (ids,),
    ):
        issues.setdefault(response_id, []).append(IssueLink(destination, identifier, url))
    return routing.with_annotations(responses, tags, issues)


async def tags_of(conn: Connection, response_id: str) -> list[Tag]:
    rows = await all_rows(
        conn,
        "SELECT tag, source, rule, matched FROM response_tags WHERE response_id = %s ORDER BY tag",
        (response_id,),
    )
    return [routing.tag_from_row(row) for row in rows]


async def mark(conn: Connection, touchpoint_id: int) -> None:
    """Tags or issues changed outside a rating's write: other processes' caches look again."""
    await conn.execute(
        "INSERT INTO annotation_marks (touchpoint_id, mark) VALUES (%s, 1)"
        " ON CONFLICT (touchpoint_id) DO UPDATE SET mark = annotation_marks.mark + 1",
        (touchpoint_id,),
    )


async def snapshot(conn: Connection) -> Snapshot:
    """The snapshot with the annotation marks: another process's manual tag moved them."""
    found = await reads.snapshot(conn)
    rows = await all_rows(conn, "SELECT touchpoint_id, mark FROM annotation_marks")
    return replace(found, marks={touchpoint_id: int(mark) for touchpoint_id, mark in rows})


# -- in a rating's own write ----------------------------------------------------------------


async def route(
    conn: Connection,
    table: Table,
    response: Response,
    event: str,
    now: float,
    existing: Sequence[Tag] = (),
) -> Response:
    """Apply the rules to a rating as stored: its rule tags and its deliveries, in its write."""
    routed = routing.route(table, response, event, existing)
    if routed.retag:
        await conn.execute(
            "DELETE FROM response_tags WHERE response_id = %s AND source = 'rule'"
            " AND rule = ANY(%s)",
            (response.id, list(routed.decision.evaluated)),
        )
    async with conn.cursor() as cursor:
        if routed.added:
            await cursor.executemany(
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
        notices = [
            (notice, table.destinations[notice.destination])
            for notice in routed.notices
            if notice.destination in table.destinations  # removed meanwhile: can't be named
        ]
        if notices:
            await cursor.executemany(
                DELIVERY_INSERT,
                [
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
                    )
                    for notice, destination_id in notices
                ],
            )
    if event != "created" and response.comment and table.waits:
        await conn.execute(  # the comment came: deliveries waiting for it go out now
            "UPDATE deliveries SET held = false, due_at = %s, updated_at = %s"
            " WHERE response_id = %s AND held AND state = 'pending'",
            (now, now, response.id),
        )
    return routed.tagged(response)


async def record(
    conn: Connection, new: NewResponse, now: float, cache: RoutingCache
) -> tuple[Response, Response | None]:
    """Store a rating (store/postgres/writes.py) with what its rules decide, in its write."""
    table = await cache.current(conn)
    stored, previous = await writes.record(conn, new, now)
    if previous is not None and previous.score != stored.score:
        await conn.execute(  # tags keep their rating's score beside them
            "UPDATE response_tags SET score = %s WHERE response_id = %s", (stored.score, stored.id)
        )
    if previous is None:
        return (await route(conn, table, stored, "created", now) if table.rules else stored), None
    if not table.rules:
        return (await annotate(conn, [stored]))[0], previous
    existing = await tags_of(conn, stored.id)
    stored = await route(conn, table, stored, "updated", now, existing)
    annotated = (await annotate(conn, [stored]))[0]
    return replace(annotated, tags=stored.tags), previous


async def comment(
    conn: Connection,
    response_id: str,
    text: str | None,
    touchpoint_id: int,
    subject: str | None,
    edit_window: float | None,
    now: float,
    cache: RoutingCache,
) -> tuple[Response, bool]:
    """Set or clear a comment; tagging rules run again on it. Returns the rating and whether
    its tags changed."""
    table = await cache.current(conn)
    stored = await writes.comment(conn, response_id, text, touchpoint_id, subject, edit_window, now)
    before = await tags_of(conn, response_id)
    if table.rules:
        stored = await route(conn, table, stored, "commented", now, before)
    else:
        stored = replace(stored, tags=tuple(before))
    retagged = tuple(before) != stored.tags
    if retagged:  # no count moved, yet other processes' tag-filtered numbers did
        await mark(conn, touchpoint_id)
    annotated = (await annotate(conn, [stored]))[0]
    return replace(annotated, tags=stored.tags), retagged


async def import_ratings(conn: Connection, ratings: Sequence[Response]) -> list[Response]:
    """Ratings as given (store/postgres/writes.py), with the tags and issues they carry (a
    copy from another database); rules don't run on them."""
    stored = await writes.import_ratings(conn, ratings)
    tags = [row for rating in stored for row in routing.tag_rows(rating)]
    issues = [row for rating in stored for row in routing.issue_rows(rating)]
    async with conn.cursor() as cursor:
        if tags:
            await cursor.executemany(TAG_INSERT, tags)
        if issues:
            await cursor.executemany(
                "INSERT INTO response_issues (delivery_id, response_id, touchpoint_id,"
                " destination, identifier, url, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                issues,
            )
    return stored


async def delete(conn: Connection, response_id: str) -> Response:
    """A deleted rating takes its tags and issues (by cascade) and its unsent deliveries
    with it; sent ones stay in the outbox's history."""
    deleted = await writes.delete(conn, response_id)
    await conn.execute(
        "DELETE FROM deliveries WHERE state IN ('pending', 'failed') AND response_id = %s",
        (response_id,),
    )
    return deleted


async def create_touchpoint(conn: Connection, fields: dict[str, Any], now: float) -> Touchpoint:
    created = await writes.create_touchpoint(conn, fields, now)
    await bump(conn)  # rules name touchpoints by slug
    return created


async def update_touchpoint(
    conn: Connection, slug: str, fields: dict[str, Any], rotate: bool, now: float
) -> Touchpoint:
    updated = await writes.update_touchpoint(conn, slug, fields, rotate, now)
    await bump(conn)
    return updated


async def delete_touchpoint(conn: Connection, slug: str) -> Touchpoint:
    """Its ratings' deliveries go too (tags, issues and marks by cascade)."""
    touchpoint = await writes.touchpoint_by_slug(conn, slug)
    await conn.execute(
        "DELETE FROM deliveries WHERE response_id IN"
        " (SELECT id FROM responses WHERE touchpoint_id = %s)",
        (touchpoint.id,),
    )
    await bump(conn)
    return await writes.delete_touchpoint(conn, slug)


# -- by hand and by backfill ----------------------------------------------------------------


async def _rating(conn: Connection, response_id: str) -> Response:
    """The rating, its row locked until the batch commits."""
    rows = await all_rows(
        conn, f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = %s FOR UPDATE", (response_id,)
    )
    if not rows:
        raise NotFound("response", response_id)
    return response_from_row(rows[0])


async def add_tag(conn: Connection, response_id: str, tag: str, now: float) -> Response:
    """Tag a rating by hand; a rule's tag of the same name becomes a manual one."""
    rating = await _rating(conn, response_id)
    await conn.execute(
        "DELETE FROM response_tags WHERE response_id = %s AND tag = %s", (response_id, tag)
    )
    await conn.execute(
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
    await mark(conn, rating.touchpoint_id)
    return (await annotate(conn, [rating]))[0]


async def remove_tag(conn: Connection, response_id: str, tag: str) -> Response:
    rating = await _rating(conn, response_id)
    removed = await all_rows(
        conn,
        "DELETE FROM response_tags WHERE response_id = %s AND tag = %s RETURNING tag",
        (response_id, tag),
    )
    if not removed:
        raise routing.tag_not_found(tag)
    await mark(conn, rating.touchpoint_id)
    return (await annotate(conn, [rating]))[0]


async def backfill(
    conn: Connection,
    cache: RoutingCache,
    rule_name: str,
    since: float | None,
    cursor: int,
    limit: int,
) -> Backfilled:
    """Apply one tagging rule to the next `limit` stored ratings after `cursor`, as if each
    had just been given (event `created`); manual tags are kept.

    Ratings are walked by `xid` through its index (the cursor is the last one
    done), in whole transactions: the ratings one transaction wrote share its
    xid, so a step ends before a transaction it would cut in two (or takes a
    whole one larger than `limit`, an import's batch). A rating replaced
    meanwhile takes a new xid and comes once more, which changes nothing.
    """
    only = routing.backfilled_rule(await cache.current(conn), rule_name)
    since_sql, args = (" AND created_at >= %s", [since]) if since is not None else ("", [])
    select = f"SELECT xid, {RESPONSE_COLUMNS} FROM responses WHERE"
    rows = await all_rows(
        conn,
        f"{select} xid > %s{since_sql} ORDER BY xid, id LIMIT %s FOR UPDATE",
        [cursor, *args, limit + 1],
    )
    more = len(rows) > limit
    if more and rows[limit][0] == rows[limit - 1][0]:  # the step would cut a transaction
        last = rows[limit][0]
        rows = [row for row in rows[:limit] if row[0] != last] or await all_rows(
            conn, f"{select} xid = %s{since_sql} ORDER BY id FOR UPDATE", [last, *args]
        )
    else:
        rows = rows[:limit]
    tagged = 0
    touched: set[int] = set()
    for row in rows:
        rating = response_from_row(row[1:])
        before = await tags_of(conn, rating.id)
        after = await route(conn, only, rating, "created", rating.created_at, before)
        if any(t.rule == rule_name for t in after.tags):
            tagged += 1
        if after.tags != tuple(before):
            touched.add(rating.touchpoint_id)
    for touchpoint_id in sorted(touched):
        await mark(conn, touchpoint_id)
    return Backfilled(len(rows), tagged, rows[-1][0] if more else None, tuple(sorted(touched)))


async def add_issue(
    conn: Connection, delivery_id: str, response: Response, issue: IssueLink, now: float
) -> None:
    await conn.execute(
        "INSERT INTO response_issues (delivery_id, response_id, touchpoint_id, destination,"
        " identifier, url, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
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
    await mark(conn, response.touchpoint_id)


# -- reading ---------------------------------------------------------------------------------


async def response(conn: Connection, response_id: str) -> Response | None:
    found = await reads.response(conn, response_id)
    return (await annotate(conn, [found]))[0] if found else None


async def list_responses(
    conn: Connection, query: ResponseQuery, limit: int, after: tuple[float, str] | None
) -> list[Response]:
    return await annotate(conn, await reads.list_responses(conn, query, limit, after))


def _where(
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str | None,
) -> tuple[str, list[Any]]:
    """Tagged ratings in a window; context filters look at the rating's row."""
    sql = "t.touchpoint_id = %s"
    args: list[Any] = [touchpoint_id]
    if tag is not None:
        sql += " AND t.tag = %s"
        args.append(tag)
    if since is not None:
        sql += " AND t.created_at >= %s"
        args.append(since)
    if until is not None:
        sql += " AND t.created_at < %s"
        args.append(until)
    for key, value in filters.items():
        sql += " AND r.context->>%s = %s"
        args += [key, value]
    return sql, args


def _join(filters: Mapping[str, str]) -> str:
    return " JOIN responses r ON r.id = t.response_id" if filters else ""


async def tagged_counts(
    conn: Connection,
    touchpoint_id: int,
    tag: str,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> Counts:
    where, args = _where(touchpoint_id, since, until, filters, tag)
    rows = await all_rows(
        conn,
        f"SELECT t.score, count(*) FROM response_tags t{_join(filters)} WHERE {where}"
        " GROUP BY t.score",
        args,
    )
    return {score: int(count) for score, count in rows}


async def counts(
    conn: Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str | None,
) -> Counts:
    if tag is not None:
        return await tagged_counts(conn, touchpoint_id, tag, since, until, filters)
    return await reads.Window(conn, touchpoint_id).counts(since, until, filters)


async def series(
    conn: Connection,
    touchpoint_id: int,
    buckets: Sequence[tuple[float, float]],
    filters: Mapping[str, str],
    tag: str | None,
) -> list[tuple[Counts, Any]]:
    if tag is None:
        return await reads.series(conn, touchpoint_id, buckets, filters)
    return [
        (await tagged_counts(conn, touchpoint_id, tag, start, end, filters), None)
        for start, end in buckets
    ]


async def breakdown(
    conn: Connection,
    touchpoint_id: int,
    key: str,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
    tag: str | None,
) -> dict[str, Counts]:
    """With a tag: the rows of the ratings carrying it, found through the tag index."""
    if tag is None:
        return await reads.Window(conn, touchpoint_id).breakdown(key, since, until, filters)
    where, args = _where(touchpoint_id, since, until, filters, tag)
    groups: dict[str, Counts] = {}
    for value, score, count in await all_rows(
        conn,
        "SELECT r.context->>%s AS value, t.score, count(*) FROM response_tags t"
        f" JOIN responses r ON r.id = t.response_id WHERE {where} AND r.context ? %s"
        " GROUP BY 1, 2",
        [key, *args, key],
    ):
        groups.setdefault(value, {})[score] = int(count)
    return groups


async def by_tag(
    conn: Connection,
    touchpoint_id: int,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str],
) -> dict[str, Counts]:
    """Score counts per tag in a window (a rating with two tags counts in both)."""
    where, args = _where(touchpoint_id, since, until, filters, None)
    groups: dict[str, Counts] = {}
    for tag, score, count in await all_rows(
        conn,
        f"SELECT t.tag, t.score, count(*) FROM response_tags t{_join(filters)} WHERE {where}"
        " GROUP BY t.tag, t.score",
        args,
    ):
        groups.setdefault(tag, {})[score] = int(count)
    return groups


async def tag_series(
    conn: Connection,
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
        where += " AND t.response_id IN (SELECT response_id FROM response_tags WHERE tag = %s)"
        args.append(tag)
    rows = await all_rows(
        conn, f"SELECT t.tag, t.created_at FROM response_tags t{_join(filters)} WHERE {where}", args
    )
    return routing.bucket_tags(buckets, rows)
