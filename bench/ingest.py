"""Ingest: POST /api/v1/responses through `scorelet serve` against the no-op, A B A B.

The floors (floor.py) run beside them: the least a durable ingest can do,
into a bare table and into Scorelet's own schema, to show how much of the
no-op's speed any request path that commits (and keeps rollups) can keep.

Every Scorelet run starts from a fresh copy of the same data directory, and
ends with a count: each 2xx wrk saw is a rating acknowledged after its commit,
so the rows added must be at least that many. Fewer is a lost acknowledgement,
and the run fails whatever its speed. (A few more is fine: requests in flight
when wrk stops are committed, but wrk never reads their answers.)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import harness
from dataset import Dataset

BODIES_PER_TOUCHPOINT = 4
# The no-op is the baseline of every ratio. The floors (floor.py) show what
# the least possible durable ingest reaches against it on the same machine:
# into a bare table, and into Scorelet's own schema (indexes, rollups).
APPS = ("noop", "floor", "floor-schema", "scorelet")


def bodies(dataset: Dataset) -> list[tuple[str, str, str]]:
    """Distinct submissions: four per touchpoint, as the widget posts them (no id)."""
    requests = []
    for n, tp in enumerate(dataset.touchpoints):
        for k in range(BODIES_PER_TOUCHPOINT):
            score = (n + 3 * k) % 11 if tp.metric == "nps" else 1 + (n + k) % 5
            body = {"token": tp.token, "score": score, "context": {"page": f"/step-{k}"}}
            requests.append(("POST", "/api/v1/responses", json.dumps(body)))
    return requests


@dataclass(frozen=True)
class Run:
    app: str
    connections: int
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    ok: int
    errors: int
    rows_added: int | None = None
    lost: int | None = None


def one_run(
    app: str, connections: int, round_: int, template: Path, work: Path, requests: Path, args: Any
) -> Run:
    if app != "scorelet":
        database = work / f"{app}-{connections}-{round_}.db"
        schema = app == "floor-schema"
        server_cm = harness.noop() if app == "noop" else harness.floor(database, args.sync, schema)
        with server_cm as server:
            harness.warm(server, requests, connections, args.warmup)
            before = floor_rows(database)
            load = harness.wrk(server, requests, connections, args.duration)
        added = floor_rows(database) - before if app != "noop" else None
        for leftover in work.glob(f"{database.name}*"):
            leftover.unlink()
        return Run(app, connections, round_, load.rps, load.p50_ms, load.p99_ms,
                   load.cpu_us_per_request, load.ok, load.other + load.socket_errors, added,
                   None if added is None else max(0, load.ok - added))  # fmt: skip
    data = work / f"ingest-{connections}-{round_}"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    dataset = Dataset(data, [], "")
    with harness.scorelet(data, args.sync) as server:
        harness.warm(server, requests, connections, args.warmup)
        before = dataset.rows()
        load = harness.wrk(server, requests, connections, args.duration)
    added = dataset.rows() - before  # the server has stopped: everything it took is counted
    shutil.rmtree(data)
    return Run(app, connections, round_, load.rps, load.p50_ms, load.p99_ms,
               load.cpu_us_per_request, load.ok, load.other + load.socket_errors,
               added, max(0, load.ok - added))  # fmt: skip


def run(args: Any, work: Path) -> dict[str, Any]:
    template = work / "ingest-template"
    dataset = Dataset.create(template, args.touchpoints, harness.SECRET)
    requests = harness.write_requests(work / "ingest.req", bodies(dataset), {
        "Content-Type": "application/json"})  # fmt: skip
    runs: list[Run] = []
    for round_ in range(args.rounds):
        for connections in args.connections:
            order = APPS if round_ % 2 == 0 else APPS[::-1]
            for app in order:
                result = one_run(app, connections, round_, template, work, requests, args)
                runs.append(result)
                print(f"  ingest {app:<8} c={connections:<3} round {round_ + 1}:"
                      f" {result.rps:8,.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                      f"  p99 {result.p99_ms:6.2f} ms  {result.cpu_us:5.1f} µs CPU/req"
                      + (f"  rows +{result.rows_added} for {result.ok} acks, lost {result.lost}"
                         if result.lost is not None else ""), flush=True)  # fmt: skip
    return {"bodies": len(dataset.touchpoints) * BODIES_PER_TOUCHPOINT,
            "touchpoints": len(dataset.touchpoints), "sync": args.sync,
            "by_connections": {str(c): summarize(runs, c) for c in args.connections},
            "runs": [asdict(r) for r in runs]}  # fmt: skip


def summarize(runs: list[Run], connections: int) -> dict[str, Any]:
    """Medians per app, and the median of the paired (same round) ratios."""
    mine = [r for r in runs if r.connections == connections]
    out: dict[str, Any] = {}
    for app in APPS:
        these = [r for r in mine if r.app == app]
        if not these:
            continue
        out[app] = {
            "rps": round(statistics.median(r.rps for r in these)),
            "p50_ms": round(statistics.median(r.p50_ms for r in these), 3),
            "p99_ms": round(statistics.median(r.p99_ms for r in these), 3),
            "cpu_us_per_request": round(statistics.median(r.cpu_us for r in these), 1),
            "errors": sum(r.errors for r in these),
        }
    pairs = paired(mine, "scorelet")
    out["rps_ratio"] = round(statistics.median(s.rps / n.rps for s, n in pairs), 3)
    out["p99_ratio"] = round(statistics.median(s.p99_ms / n.p99_ms for s, n in pairs), 2)
    for floor in ("floor", "floor-schema"):
        if floors := paired(mine, floor):
            ratio = statistics.median(f.rps / n.rps for f, n in floors)
            out[f"{floor}_rps_ratio"] = round(ratio, 3)
    out["acks"] = sum(s.ok for s, _ in pairs)
    out["lost"] = sum(s.lost or 0 for s, _ in pairs)
    return out


def floor_rows(database: Path) -> int:
    """Rows a floor has committed (the floors keep their acknowledgements too)."""
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(database)) as conn:
        count: int = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        return count


def paired(runs: list[Run], app: str) -> list[tuple[Run, Run]]:
    """Each of `app`'s runs with the no-op's run of the same round."""
    return [
        (a, n) for a in runs if a.app == app for n in runs if n.app == "noop" and n.round == a.round
    ]


def memory(args: Any, work: Path) -> dict[str, Any]:
    """Peak RSS of `scorelet serve` after ingesting `args.memory_responses` over HTTP."""
    data = work / "memory"
    dataset = Dataset.create(data, args.touchpoints, harness.SECRET)
    requests = harness.write_requests(work / "memory.req", bodies(dataset), {
        "Content-Type": "application/json"})  # fmt: skip
    acked = 0
    started = time.monotonic()
    with harness.scorelet(data, args.sync) as server:
        rss_idle = server.peak_rss_kb()
        rows = 0
        while rows < args.memory_responses:
            chunk = min(10.0, max(1.0, (args.memory_responses - rows) / 10_000))
            load = harness.wrk(server, requests, 64, chunk)
            acked += load.ok
            rows = dataset.rows()
            print(f"  memory: {rows:,} ratings stored,"
                  f" peak RSS {server.peak_rss_kb() / 1024:.1f} MB", flush=True)  # fmt: skip
        peak = server.peak_rss_kb()
    rows = dataset.rows()
    shutil.rmtree(data)
    return {
        "responses": rows,
        "acked": acked,
        "lost": max(0, acked - rows),
        "seconds": round(time.monotonic() - started, 1),
        "rss_at_start_mb": round(rss_idle / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
    }
