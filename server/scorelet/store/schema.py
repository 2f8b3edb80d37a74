"""The database schema as numbered migrations, applied in order at start.

`PRAGMA user_version` records the last migration applied, so migrating twice
is a no-op. Rollups (per touchpoint and score: per UTC day, per hour, per
context value and day, and per context value for all time) are kept by
triggers in the same transaction as the response they count, whichever path
writes it: a new rating, a replaced one, a deletion, or a manual fix in the
sqlite3 shell.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: touchpoints, responses with their rollups, impressions, API keys.
    """
    CREATE TABLE touchpoints (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        metric TEXT NOT NULL CHECK (metric IN ('csat', 'nps')),
        scale TEXT NOT NULL,
        question TEXT,
        low_label TEXT,
        high_label TEXT,
        comment_prompt TEXT,
        thank_you TEXT,
        locale TEXT,
        origins TEXT NOT NULL DEFAULT '[]',
        satisfied_from INTEGER,
        cooldown_days INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1,
        token_version INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );

    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        score INTEGER NOT NULL,
        comment TEXT,
        subject TEXT,
        context TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX responses_by_subject
        ON responses (touchpoint_id, subject) WHERE subject IS NOT NULL;
    CREATE INDEX responses_by_time ON responses (touchpoint_id, created_at);

    CREATE TABLE response_context (
        response_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        touchpoint_id INTEGER NOT NULL,
        PRIMARY KEY (response_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX response_context_by_value ON response_context (touchpoint_id, key, value);

    CREATE TABLE rollups (
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        score INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (touchpoint_id, day, score)
    ) WITHOUT ROWID;

    CREATE TABLE impressions (
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        hour INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (touchpoint_id, hour)
    ) WITHOUT ROWID;

    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'admin', 'mint')),
        hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    );

    CREATE TRIGGER responses_counted AFTER INSERT ON responses BEGIN
        INSERT INTO rollups (touchpoint_id, day, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 86400 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO response_context (response_id, key, value, touchpoint_id)
            SELECT new.id, key, value, new.touchpoint_id FROM json_each(new.context);
    END;

    CREATE TRIGGER responses_recounted AFTER UPDATE OF score, created_at ON responses BEGIN
        UPDATE rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND day = CAST(old.created_at / 86400 AS INTEGER) AND score = old.score;
        INSERT INTO rollups (touchpoint_id, day, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 86400 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
    END;

    CREATE TRIGGER responses_recontexted AFTER UPDATE OF context ON responses BEGIN
        DELETE FROM response_context WHERE response_id = old.id;
        INSERT INTO response_context (response_id, key, value, touchpoint_id)
            SELECT new.id, key, value, new.touchpoint_id FROM json_each(new.context);
    END;

    CREATE TRIGGER responses_uncounted AFTER DELETE ON responses BEGIN
        UPDATE rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND day = CAST(old.created_at / 86400 AS INTEGER) AND score = old.score;
        DELETE FROM response_context WHERE response_id = old.id;
    END;
    """,
    # 2: hourly rollups (time-zone aligned series, exact windows) and per-context
    # daily rollups (breakdowns and single-key filters at any data size).
    """
    CREATE TABLE hourly_rollups (
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        hour INTEGER NOT NULL,
        score INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (touchpoint_id, hour, score)
    ) WITHOUT ROWID;

    CREATE TABLE context_rollups (
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        day INTEGER NOT NULL,
        score INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (touchpoint_id, key, value, day, score)
    ) WITHOUT ROWID;

    INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)
        SELECT touchpoint_id, CAST(created_at / 3600 AS INTEGER), score, count(*)
        FROM responses GROUP BY 1, 2, 3;

    INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)
        SELECT r.touchpoint_id, c.key, c.value, CAST(r.created_at / 86400 AS INTEGER), r.score,
               count(*)
        FROM responses r JOIN response_context c ON c.response_id = r.id
        GROUP BY 1, 2, 3, 4, 5;

    DROP INDEX responses_by_time;
    CREATE INDEX responses_by_recency ON responses (touchpoint_id, created_at, id);

    CREATE TRIGGER responses_counted_by_hour AFTER INSERT ON responses BEGIN
        INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 3600 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)
            SELECT new.touchpoint_id, key, value, CAST(new.created_at / 86400 AS INTEGER),
                   new.score, 1
            FROM json_each(new.context) WHERE true
            ON CONFLICT DO UPDATE SET count = count + 1;
    END;

    CREATE TRIGGER responses_recounted_by_hour AFTER UPDATE OF score, created_at ON responses
    BEGIN
        UPDATE hourly_rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND hour = CAST(old.created_at / 3600 AS INTEGER) AND score = old.score;
        INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 3600 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
    END;

    CREATE TRIGGER responses_recounted_by_context
    AFTER UPDATE OF score, created_at, context ON responses BEGIN
        UPDATE context_rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND day = CAST(old.created_at / 86400 AS INTEGER) AND score = old.score
              AND (key, value) IN (SELECT key, value FROM json_each(old.context));
        INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)
            SELECT new.touchpoint_id, key, value, CAST(new.created_at / 86400 AS INTEGER),
                   new.score, 1
            FROM json_each(new.context) WHERE true
            ON CONFLICT DO UPDATE SET count = count + 1;
    END;

    CREATE TRIGGER responses_uncounted_by_hour AFTER DELETE ON responses BEGIN
        UPDATE hourly_rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND hour = CAST(old.created_at / 3600 AS INTEGER) AND score = old.score;
        UPDATE context_rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND day = CAST(old.created_at / 86400 AS INTEGER) AND score = old.score
              AND (key, value) IN (SELECT key, value FROM json_each(old.context));
    END;
    """,
    # 3: all-time counts per context value, so an all-time breakdown (by agent,
    # team ...) reads one row per value and score, however long the data spans.
    """
    CREATE TABLE context_totals (
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        score INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (touchpoint_id, key, value, score)
    ) WITHOUT ROWID;

    INSERT INTO context_totals (touchpoint_id, key, value, score, count)
        SELECT touchpoint_id, key, value, score, sum(count) FROM context_rollups
        GROUP BY 1, 2, 3, 4;

    CREATE TRIGGER context_totals_follow_inserts AFTER INSERT ON context_rollups BEGIN
        INSERT INTO context_totals (touchpoint_id, key, value, score, count)
            VALUES (new.touchpoint_id, new.key, new.value, new.score, new.count)
            ON CONFLICT DO UPDATE SET count = count + excluded.count;
    END;

    CREATE TRIGGER context_totals_follow_updates AFTER UPDATE OF count ON context_rollups BEGIN
        UPDATE context_totals SET count = count + new.count - old.count
            WHERE touchpoint_id = new.touchpoint_id AND key = new.key
              AND value = new.value AND score = new.score;
    END;
    """,
    # 4: a cheaper insert. The per-rating context index (response_context) cost
    # more than the rating itself; context filters now read the context column
    # with json_extract on the few rows a window's edges leave, and the insert
    # triggers are one, so a rating fires one trigger instead of two.
    """
    DROP TRIGGER responses_counted;
    DROP TRIGGER responses_counted_by_hour;
    DROP TRIGGER responses_recontexted;
    DROP TRIGGER responses_uncounted;
    DROP TABLE response_context;

    CREATE TRIGGER responses_counted AFTER INSERT ON responses BEGIN
        INSERT INTO rollups (touchpoint_id, day, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 86400 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 3600 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)
            SELECT new.touchpoint_id, key, value, CAST(new.created_at / 86400 AS INTEGER),
                   new.score, 1
            FROM json_each(new.context) WHERE new.context != '{}'
            ON CONFLICT DO UPDATE SET count = count + 1;
    END;

    CREATE TRIGGER responses_uncounted AFTER DELETE ON responses BEGIN
        UPDATE rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND day = CAST(old.created_at / 86400 AS INTEGER) AND score = old.score;
    END;
    """,
    # 5: a deleted touchpoint's slug keeps its last embed-token version, so a new
    # touchpoint of the same name starts above it and never accepts the old tokens.
    """
    CREATE TABLE retired_slugs (
        slug TEXT PRIMARY KEY,
        token_version INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 6: branding and per-group follow-up prompts on touchpoints; response rates
    # from displays only. A rating sent by a widget that counted its impression
    # is `shown`, and the insert trigger counts it into its hour's impression
    # row (`answered`), so a rate never divides API or email ratings by displays
    # they never had. Older hours get the estimate they were shown before,
    # capped at their impressions.
    """
    ALTER TABLE touchpoints ADD COLUMN brand_name TEXT;
    ALTER TABLE touchpoints ADD COLUMN brand_logo TEXT;
    ALTER TABLE touchpoints ADD COLUMN brand_accent TEXT;
    ALTER TABLE touchpoints ADD COLUMN comment_prompts TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE responses ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE impressions ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;

    UPDATE impressions SET answered = min(count, coalesce((
        SELECT sum(h.count) FROM hourly_rollups h
        WHERE h.touchpoint_id = impressions.touchpoint_id AND h.hour = impressions.hour), 0));

    DROP TRIGGER responses_counted;
    CREATE TRIGGER responses_counted AFTER INSERT ON responses BEGIN
        INSERT INTO rollups (touchpoint_id, day, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 86400 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO hourly_rollups (touchpoint_id, hour, score, count)
            VALUES (new.touchpoint_id, CAST(new.created_at / 3600 AS INTEGER), new.score, 1)
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO context_rollups (touchpoint_id, key, value, day, score, count)
            SELECT new.touchpoint_id, key, value, CAST(new.created_at / 86400 AS INTEGER),
                   new.score, 1
            FROM json_each(new.context) WHERE new.context != '{}'
            ON CONFLICT DO UPDATE SET count = count + 1;
        INSERT INTO impressions (touchpoint_id, hour, count, answered)
            SELECT new.touchpoint_id, CAST(new.created_at / 3600 AS INTEGER), 0, 1
            WHERE new.shown
            ON CONFLICT DO UPDATE SET answered = answered + 1;
    END;

    DROP TRIGGER responses_uncounted;
    CREATE TRIGGER responses_uncounted AFTER DELETE ON responses BEGIN
        UPDATE rollups SET count = count - 1
            WHERE touchpoint_id = old.touchpoint_id
              AND day = CAST(old.created_at / 86400 AS INTEGER) AND score = old.score;
        UPDATE impressions SET answered = answered - 1
            WHERE old.shown AND touchpoint_id = old.touchpoint_id
              AND hour = CAST(old.created_at / 3600 AS INTEGER);
    END;
    """,
)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the numbers applied."""
    applied = []
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema {current}, newer than this Scorelet knows "
            f"({len(MIGRATIONS)}); upgrade Scorelet"
        )
    for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete statement in migration: {pending.strip()[:60]}")
    return statements
