"""The SQLite schema as numbered migrations, applied in order at start.

`PRAGMA user_version` records the last migration applied, so migrating twice
is a no-op. The list is append-only: a migration, once released, never
changes (so migrations 1-5 still create the triggers that 6 drops).

Since migration 6, raw ratings are the truth and rollups are derived: a
rating's transaction writes its row (and, when it replaces or deletes a
version, an `undone` row holding that version) and nothing that costs per
rating. Every stored change takes the next `seq`; folding (fold.py) adds all
changes after `fold_state.watermark` into the rollups and moves the
watermark in the same transaction, so a crash at any moment loses nothing
and counts nothing twice. Reads add what lies after the watermark.
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
    # 6: no triggers. Ratings get a `seq` in commit order (every replacement takes a new
    # one) and the browser's `client` id; replaced and deleted versions wait in `undone`
    # until folded; all-time totals per touchpoint become a rollup too. The rollups the
    # triggers kept are exact, so they are kept and everything is marked folded.
    """
    DROP TRIGGER IF EXISTS responses_counted;
    DROP TRIGGER IF EXISTS responses_uncounted;
    DROP TRIGGER IF EXISTS responses_recounted;
    DROP TRIGGER IF EXISTS responses_recontexted;
    DROP TRIGGER IF EXISTS responses_counted_by_hour;
    DROP TRIGGER IF EXISTS responses_recounted_by_hour;
    DROP TRIGGER IF EXISTS responses_recounted_by_context;
    DROP TRIGGER IF EXISTS responses_uncounted_by_hour;
    DROP TRIGGER IF EXISTS context_totals_follow_inserts;
    DROP TRIGGER IF EXISTS context_totals_follow_updates;

    CREATE TABLE ratings (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        score INTEGER NOT NULL,
        comment TEXT,
        subject TEXT,
        context TEXT NOT NULL DEFAULT '{}',
        client TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    INSERT INTO ratings
        (id, touchpoint_id, score, comment, subject, context, created_at, updated_at)
        SELECT id, touchpoint_id, score, comment, subject, context, created_at, updated_at
        FROM responses ORDER BY created_at, id;
    DROP TABLE responses;
    ALTER TABLE ratings RENAME TO responses;
    CREATE UNIQUE INDEX responses_by_subject
        ON responses (touchpoint_id, subject) WHERE subject IS NOT NULL;
    -- Covering for counts at a window's edges; listings read the rows it points at.
    CREATE INDEX responses_by_time ON responses (touchpoint_id, created_at, score);

    CREATE TABLE undone (
        seq INTEGER PRIMARY KEY,
        old_seq INTEGER NOT NULL,
        touchpoint_id INTEGER NOT NULL,
        score INTEGER NOT NULL,
        context TEXT NOT NULL,
        created_at REAL NOT NULL
    );

    CREATE TABLE score_totals (
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        score INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (touchpoint_id, score)
    ) WITHOUT ROWID;
    INSERT INTO score_totals (touchpoint_id, score, count)
        SELECT touchpoint_id, score, sum(count) FROM rollups GROUP BY 1, 2;

    CREATE TABLE fold_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        watermark INTEGER NOT NULL
    );
    INSERT INTO fold_state (id, watermark)
        VALUES (1, (SELECT coalesce(max(seq), 0) FROM responses));
    """,
    # 7: branding and per-group follow-up prompts on touchpoints; response rates from
    # displays only. A rating sent by a widget that counted its impression is `shown`;
    # folding counts it into its hour's impression row (`answered`), so a rate never
    # divides API or email ratings by displays they never had. Older hours keep the
    # estimate they were shown before, now written down: up to as many of an hour's
    # folded ratings as it had impressions are marked shown, and counted.
    """
    ALTER TABLE touchpoints ADD COLUMN brand_name TEXT;
    ALTER TABLE touchpoints ADD COLUMN brand_logo TEXT;
    ALTER TABLE touchpoints ADD COLUMN brand_accent TEXT;
    ALTER TABLE touchpoints ADD COLUMN comment_prompts TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE responses ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE undone ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE impressions ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;

    UPDATE responses SET shown = 1 WHERE seq IN (
        SELECT r.seq FROM (
            SELECT seq, touchpoint_id, CAST(created_at / 3600 AS INTEGER) AS hour,
                   row_number() OVER (
                       PARTITION BY touchpoint_id, CAST(created_at / 3600 AS INTEGER)
                       ORDER BY seq
                   ) AS n
            FROM responses WHERE seq <= (SELECT watermark FROM fold_state)
        ) AS r
        JOIN impressions AS i ON i.touchpoint_id = r.touchpoint_id AND i.hour = r.hour
        WHERE r.n <= i.count
    );
    UPDATE impressions SET answered = (
        SELECT count(*) FROM responses AS r
        WHERE r.touchpoint_id = impressions.touchpoint_id
          AND r.created_at >= impressions.hour * 3600
          AND r.created_at < (impressions.hour + 1) * 3600
          AND r.shown AND r.seq <= (SELECT watermark FROM fold_state)
    );
    """,
    # 8 (tags, rules and deliveries): tags on ratings, tagging and notify rules, destinations,
    # the durable outbox of deliveries, issues created for ratings, and digests.
    # Tags keep their rating's touchpoint, time and score beside them (kept in step by the
    # writes that change a rating), so counting a tag over a window reads one covering index
    # and no rollup: a tag's count costs in proportion to the ratings that carry it there.
    # `routing_state.version` moves with every rule, destination or touchpoint change, so a
    # writer's in-memory copy of the rules is checked against it once per batch.
    """
    CREATE TABLE response_tags (
        response_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        touchpoint_id INTEGER NOT NULL,
        created_at REAL NOT NULL,
        score INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('manual', 'rule')),
        rule TEXT,
        matched TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (response_id, tag)
    );
    CREATE INDEX response_tags_by_tag ON response_tags (touchpoint_id, tag, created_at, score);
    CREATE INDEX response_tags_by_time ON response_tags (touchpoint_id, created_at);

    CREATE TABLE destinations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('slack', 'webhook', 'linear')),
        url TEXT NOT NULL,
        secret TEXT,
        team TEXT,
        priority INTEGER,
        labels TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        disabled_at REAL,
        disabled_reason TEXT
    );

    CREATE TABLE rules (
        name TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        created_at REAL NOT NULL
    );

    CREATE TABLE routing_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    );
    INSERT INTO routing_state (id, version) VALUES (1, 1);

    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('rating', 'digest')),
        rule TEXT,
        event TEXT,
        response_id TEXT,
        payload TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dead')),
        held INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        due_at REAL NOT NULL,
        lease_until REAL,
        last_status INTEGER,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX deliveries_due ON deliveries (due_at) WHERE state IN ('pending', 'failed');
    -- Listed newest first by id: ids are time-ordered (UUIDv7), so no index on time. Only
    -- deliveries waiting for a comment are looked up by rating, so only they are indexed.
    CREATE INDEX deliveries_held ON deliveries (response_id) WHERE held = 1;

    CREATE TABLE response_issues (
        delivery_id TEXT PRIMARY KEY,
        response_id TEXT NOT NULL,
        touchpoint_id INTEGER NOT NULL,
        destination TEXT NOT NULL,
        identifier TEXT NOT NULL,
        url TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX response_issues_by_response ON response_issues (response_id);

    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        every TEXT NOT NULL CHECK (every IN ('week', 'month', 'quarter')),
        touchpoints TEXT NOT NULL DEFAULT '[]',
        tz TEXT NOT NULL,
        at TEXT NOT NULL,
        last_period TEXT,
        created_at REAL NOT NULL
    );

    -- Bumped when tags or issues change outside a rating's own transaction (by hand, a
    -- backfill, a created issue), so another process's cache sees the listings moved.
    CREATE TABLE annotation_marks (
        touchpoint_id INTEGER PRIMARY KEY,
        mark INTEGER NOT NULL
    );
    """,
    # 9 (the dashboard): accounts, and an index of the commented ratings only, so filters
    # about comments (has a comment, a search in them) read those rows and no others.
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        password_hash TEXT,
        session_version INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX responses_commented
        ON responses (touchpoint_id, created_at, id) WHERE comment IS NOT NULL;
    """,
    # 10: when to ask. Touchpoints get their eligibility policy; ratings name
    # the identified person who gave them (anonymous ones leave it NULL, and the partial
    # index costs them nothing); `person_displays` keeps each display and dismissal per
    # person; `people` the traits their latest identity token carried; `settings` the
    # install-wide ones (the global throttle). `trigger` is a plain column name in SQLite
    # and PostgreSQL alike (a non-reserved keyword).
    """
    ALTER TABLE touchpoints ADD COLUMN recontact_days INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE touchpoints ADD COLUMN redisplay_days INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE touchpoints ADD COLUMN max_displays INTEGER;
    ALTER TABLE touchpoints ADD COLUMN sample REAL NOT NULL DEFAULT 100;
    ALTER TABLE touchpoints ADD COLUMN min_days_since_signup INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE touchpoints ADD COLUMN anniversary_window INTEGER;
    ALTER TABLE touchpoints ADD COLUMN trigger TEXT NOT NULL DEFAULT 'load';
    ALTER TABLE touchpoints ADD COLUMN require_identity INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE touchpoints ADD COLUMN ignore_global_throttle INTEGER NOT NULL DEFAULT 0;

    ALTER TABLE responses ADD COLUMN person TEXT;
    CREATE INDEX responses_by_person ON responses (person, touchpoint_id, created_at)
        WHERE person IS NOT NULL;

    CREATE TABLE person_displays (
        id INTEGER PRIMARY KEY,
        person TEXT NOT NULL,
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('shown', 'dismissed')),
        at REAL NOT NULL
    );
    CREATE INDEX person_displays_by_person ON person_displays (person, touchpoint_id, kind, at);

    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        traits TEXT NOT NULL DEFAULT '{}',
        first_seen_at REAL NOT NULL,
        last_seen_at REAL NOT NULL
    );

    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 11: the outbox, cheaper per rating and per claim. Deliveries are kept in their
    # primary key's order (WITHOUT ROWID: one b-tree to write per delivery, not a table and
    # its key's index), and due ones are indexed per destination, so a claim reads only
    # the destinations it can send to, never a disabled or busy one's backlog.
    """
    CREATE TABLE deliveries_v11 (
        id TEXT PRIMARY KEY,
        destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('rating', 'digest')),
        rule TEXT,
        event TEXT,
        response_id TEXT,
        payload TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dead')),
        held INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        due_at REAL NOT NULL,
        lease_until REAL,
        last_status INTEGER,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO deliveries_v11 SELECT id, destination_id, kind, rule, event, response_id,
        payload, state, held, attempts, due_at, lease_until, last_status, last_error,
        created_at, updated_at FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_v11 RENAME TO deliveries;
    CREATE INDEX deliveries_due ON deliveries (destination_id, due_at)
        WHERE state IN ('pending', 'failed');
    CREATE INDEX deliveries_held ON deliveries (response_id) WHERE held = 1;
    """,
)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the numbers applied.

    Foreign keys are off meanwhile: rebuilding a table (migration 6) must not
    cascade into its rows.
    """
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        return _migrate(conn)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _migrate(conn: sqlite3.Connection) -> list[int]:
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
