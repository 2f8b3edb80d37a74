"""Random (UUIDv4) against time-ordered (UUIDv7) rating ids, as the table grows.

Ratings go into Scorelet's own schema the way the writer stores them: 32 per
transaction, one statement each, `synchronous = FULL`, a passive checkpoint
from a second connection every 40 commits (as the server's once-a-second
checkpoint would at ~1,300 ratings/s). Printed per 100,000 rows: the mean
time per stored rating and the p99 of a 32-rating commit, for each kind of
id on a fresh file.

    python bench/ids.py                 # 700,000 ratings of each kind (about 5 minutes)
    python bench/ids.py --rows 100000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from scorelet.store.records import time_ordered_id
from scorelet.store.sqlite.schema import migrate

BATCH = 32
CHECKPOINT_EVERY = 40
REPORT_EVERY = 100_000
KINDS: dict[str, Callable[[float], str]] = {
    "random (v4)": lambda _: str(uuid.uuid4()),
    "time-ordered (v7)": time_ordered_id,
}


def fill(database: Path, new_id: Callable[[float], str], rows: int) -> list[dict[str, float]]:
    insert = (
        "INSERT INTO responses (seq, id, touchpoint_id, score, comment, subject, context, client,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    report, commits = [], []
    with (
        contextlib.closing(sqlite3.connect(database, isolation_level=None)) as conn,
        contextlib.closing(sqlite3.connect(database, isolation_level=None)) as checkpointer,
    ):
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
        conn.executemany(
            "INSERT INTO touchpoints (slug, metric, scale, created_at, updated_at)"
            " VALUES (?, 'csat', 'stars', 0, 0)",
            [(f"t{n}",) for n in range(50)],
        )
        start = time.time()
        for done in range(0, rows, BATCH):
            now = start + done / 1300
            batch = [
                (done + n + 1, new_id(now), random.randrange(1, 51), random.randrange(1, 6), None,
                 None, json.dumps({"page": f"/step-{n % 4}"}), None, now, now)
                for n in range(BATCH)
            ]  # fmt: skip
            began = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            for row in batch:
                conn.execute(insert, row)
            conn.execute("COMMIT")
            commits.append(time.perf_counter() - began)
            if (done // BATCH) % CHECKPOINT_EVERY == 0:
                checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if (done + BATCH) % REPORT_EVERY == 0 or done + BATCH >= rows:
                commits.sort()
                report.append({
                    "rows": done + BATCH,
                    "us_per_rating": sum(commits) / len(commits) / BATCH * 1e6,
                    "commit_p99_ms": commits[int(len(commits) * 0.99)] * 1e3,
                })  # fmt: skip
                commits = []
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000, help="ratings of each kind")
    args = parser.parse_args()
    for kind, new_id in KINDS.items():
        with tempfile.TemporaryDirectory() as scratch:
            for step in fill(Path(scratch) / "ids.sqlite3", new_id, args.rows):
                us, p99 = step["us_per_rating"], step["commit_p99_ms"]
                print(f"{kind:<18} {step['rows']:>9,} rows: {us:6.1f} µs per rating,"
                      f" commit p99 {p99:5.1f} ms", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
