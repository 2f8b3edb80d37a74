"""Identified people on PostgreSQL: their displays, traits, what eligibility reads, erasure.

The same rules as SQLite's (store/sqlite/writes.py and reads.py). A display
is an impression like any other (the log the fold takes) and, for an
identified person, a row of `person_displays` in the same transaction.
Erasing a person deletes each rating through the delete path (so the fold
takes it out of every rollup) and takes the impressions their displays were
counted as back out of the folded hours: the log keeps no person, so the
folded count and the all-time total go down by as many, and what the log
still holds is added on top as before. Reads sum both, so every count stays
exact at every instant, whichever of the two a display is in.
"""

from __future__ import annotations

from scorelet.eligibility import Seen
from scorelet.store.interface import History
from scorelet.store.postgres import tags, writes
from scorelet.store.postgres.connection import Connection
from scorelet.store.postgres.reads import RESPONSE_COLUMNS, all_rows, response_from_row
from scorelet.store.records import Display, Identity, Person, Response
from scorelet.store.seen import seen_from
from scorelet.timeutil import HOUR


async def record_impression(
    conn: Connection, touchpoint_id: int, identity: Identity | None, now: float
) -> None:
    """Count a display in its hour; an identified one is also kept for the person."""
    await writes.record_impression(conn, touchpoint_id, int(now // HOUR))
    if identity is not None:
        await record_display(conn, touchpoint_id, identity, "shown", now)


async def record_display(
    conn: Connection, touchpoint_id: int, identity: Identity, kind: str, now: float
) -> None:
    """A person was shown the widget, or closed it: never an answer."""
    await writes.seen_person(conn, identity, now)
    await conn.execute(
        "INSERT INTO person_displays (person, touchpoint_id, kind, at) VALUES (%s, %s, %s, %s)",
        (identity.person, touchpoint_id, kind, now),
    )


async def forget_person(conn: Connection, person: str) -> tuple[list[Response], dict[int, int]]:
    """Erase a person's ratings, displays (and the impressions they counted) and traits;
    returns the ratings removed and the impressions taken back per touchpoint."""
    ids = await all_rows(
        conn, "SELECT id FROM responses WHERE person = %s ORDER BY created_at, id", (person,)
    )
    # The delete path: the fold takes them out of every rollup; tags, issues and unsent
    # deliveries go with them.
    removed = [await tags.delete(conn, response_id) for (response_id,) in ids]
    shown = await all_rows(
        conn,
        "SELECT touchpoint_id, floor(at / %s)::bigint, count(*) FROM person_displays"
        " WHERE person = %s AND kind = 'shown' GROUP BY 1, 2",
        (HOUR, person),
    )
    impressions: dict[int, int] = {}
    for touchpoint_id, _, count in shown:
        impressions[touchpoint_id] = impressions.get(touchpoint_id, 0) + int(count)
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO impressions (touchpoint_id, hour, count) VALUES (%s, %s, %s)"
            " ON CONFLICT (touchpoint_id, hour) DO UPDATE"
            " SET count = impressions.count + excluded.count",
            [(touchpoint_id, hour, -int(count)) for touchpoint_id, hour, count in shown],
        )
        await cursor.executemany(
            "INSERT INTO display_totals (touchpoint_id, impressions) VALUES (%s, %s)"
            " ON CONFLICT (touchpoint_id) DO UPDATE"
            " SET impressions = display_totals.impressions + excluded.impressions",
            [(touchpoint_id, -count) for touchpoint_id, count in impressions.items()],
        )
    await conn.execute("DELETE FROM person_displays WHERE person = %s", (person,))
    await conn.execute("DELETE FROM people WHERE id = %s", (person,))
    return removed, impressions


async def save_setting(conn: Connection, name: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO settings (name, value) VALUES (%s, %s)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


async def seen(conn: Connection, person: str) -> dict[int, Seen]:
    """Per touchpoint, what the person answered and was shown: two indexed aggregates."""
    answers = await all_rows(
        conn,
        "SELECT touchpoint_id, count(*), max(created_at) FROM responses WHERE person = %s"
        " GROUP BY touchpoint_id",
        (person,),
    )
    shown = await all_rows(
        conn,
        "SELECT touchpoint_id, kind, count(*), max(at) FROM person_displays WHERE person = %s"
        " GROUP BY touchpoint_id, kind",
        (person,),
    )
    return seen_from(answers, shown)


async def history(conn: Connection, person: str) -> History:
    found = await all_rows(
        conn, "SELECT id, traits, first_seen_at, last_seen_at FROM people WHERE id = %s", (person,)
    )
    responses = await all_rows(
        conn,
        f"SELECT {RESPONSE_COLUMNS} FROM responses WHERE person = %s"
        " ORDER BY created_at DESC, id DESC",
        (person,),
    )
    displays = await all_rows(
        conn,
        "SELECT touchpoint_id, kind, at FROM person_displays WHERE person = %s"
        " ORDER BY at DESC, id DESC",
        (person,),
    )
    return History(
        Person(*found[0]) if found else None,
        [response_from_row(row) for row in responses],
        [Display(*row) for row in displays],
    )
