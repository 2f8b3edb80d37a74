"""PostgreSQL: ingest through one pinned process, and polling through two, against the no-op.

A PostgreSQL server of the bench's own (initdb in a scratch directory, fsync
on as PostgreSQL ships) runs pinned to the server core beside Scorelet, so the
whole server side has one core, as the no-op does, and wrk has the other.
Every run gets a fresh database with the same touchpoints.

- ingest: POST /api/v1/responses at each concurrency, A B A B against the
  no-op, with the CPU microseconds per rating split between the Scorelet
  process and PostgreSQL's processes (from /proc), and every acknowledgement
  checked against the rows PostgreSQL holds afterwards;
- polling: GET …/score at c=64 through one Scorelet process and through two
  (two wrk runs at half the connections each, at the same time), against
  the no-op's GET.

On two cores the two-process run can't show scaling: both processes share
the server core. The CPU per request is what carries over to a larger
machine, so the report derives requests per second per core from it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import statistics
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import harness
import psycopg
from dataset import Dataset
from ingest import bodies

sys.path.insert(0, str(harness.BENCH.parent / "tests"))
from postgres import Cluster, new_database

APPS = ("noop", "scorelet-postgres")


@dataclass(frozen=True)
class Run:
    app: str
    connections: int
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    scorelet_cpu_us: float
    postgres_cpu_us: float
    ok: int
    errors: int
    lost: int | None = None


def postgres_cpu_seconds(cluster: Cluster) -> float:
    """CPU time of the postmaster and every backend it started, so far."""
    root = cluster.postmaster_pid()
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a backend that just exited
        pid, parent = int(stat.parent.name), int(fields[1])
        if pid == root or parent == root:
            total += (int(fields[11]) + int(fields[12])) / harness.TICKS
    return total


def rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT count(*) FROM responses").fetchone()
        return int(found[0]) if found else 0


@contextlib.contextmanager
def database(cluster: Cluster, work: Path, touchpoints: int) -> Iterator[tuple[str, Dataset]]:
    url = new_database(cluster.admin_url)
    dataset = Dataset.create(work / "pg-data", touchpoints, harness.SECRET, url)
    try:
        yield url, dataset
    finally:
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def one_ingest(
    cluster: Cluster, app: str, connections: int, round_: int, work: Path, args: Any
) -> Run:
    if app == "noop":
        requests = work / "noop-ingest.req"
        with harness.noop() as server:
            harness.warm(server, requests, connections, args.warmup)
            load = harness.wrk(server, requests, connections, args.duration)
        errors = load.other + load.socket_errors
        return Run(app, connections, round_, load.rps, load.p50_ms, load.p99_ms,
                   load.cpu_us_per_request, 0.0, load.ok, errors)  # fmt: skip
    with database(cluster, work, args.touchpoints) as (url, dataset):
        requests = harness.write_requests(work / "pg-ingest.req", bodies(dataset), {
            "Content-Type": "application/json"})  # fmt: skip
        with harness.scorelet(dataset.data_dir, args.sync, url) as server:
            harness.warm(server, requests, connections, args.warmup)
            before, pg_before = rows(url), postgres_cpu_seconds(cluster)
            load = harness.wrk(server, requests, connections, args.duration)
            pg_cpu = postgres_cpu_seconds(cluster) - pg_before
        added = rows(url) - before  # the server has stopped: everything it took is there
    per = 1e6 / load.requests if load.requests else 0.0
    return Run(app, connections, round_, load.rps, load.p50_ms, load.p99_ms,
               load.cpu_us_per_request, pg_cpu * per, load.ok,
               load.other + load.socket_errors, max(0, load.ok - added))  # fmt: skip


def polling(cluster: Cluster, work: Path, args: Any) -> dict[str, Any]:
    """GET …/score at c=64: the no-op, one Scorelet on PostgreSQL, two at once."""
    connections = 64
    results: dict[str, list[dict[str, float]]] = {"noop": [], "one": [], "two": []}
    with database(cluster, work, args.touchpoints) as (url, dataset):
        auth = {"Authorization": f"Bearer {dataset.read_key}"}
        path = f"/api/v1/touchpoints/{dataset.touchpoints[0].slug}/score"
        score = harness.write_requests(work / "pg-score.req", [("GET", path, "")], auth)
        noop = harness.write_requests(work / "pg-noop.req", [("GET", "/", "")], {})
        for _ in range(args.rounds):
            with harness.noop() as server:
                harness.warm(server, noop, connections, args.warmup)
                load = harness.wrk(server, noop, connections, args.duration)
            results["noop"].append({"rps": load.rps, "cpu_us": load.cpu_us_per_request})
            with harness.scorelet(work / "poll-a", args.sync, url) as first:
                harness.warm(first, score, connections, args.warmup)
                load = harness.wrk(first, score, connections, args.duration)
                results["one"].append({"rps": load.rps, "cpu_us": load.cpu_us_per_request})
                with harness.scorelet(work / "poll-b", args.sync, url) as second:
                    harness.warm(second, score, connections, args.warmup)
                    with concurrent.futures.ThreadPoolExecutor(2) as pool:
                        both = list(pool.map(
                            lambda s: harness.wrk(s, score, connections // 2, args.duration),
                            (first, second)))  # fmt: skip
            requests = sum(load.requests for load in both)
            cpu = sum(load.cpu_us_per_request * load.requests for load in both) / requests
            results["two"].append({"rps": sum(load.rps for load in both), "cpu_us": cpu})
            print(f"  polling noop {results['noop'][-1]['rps']:8,.0f}  one process"
                  f" {results['one'][-1]['rps']:8,.0f}  two processes"
                  f" {results['two'][-1]['rps']:8,.0f} req/s", flush=True)  # fmt: skip
    out: dict[str, Any] = {}
    for name, runs in results.items():
        out[name] = {
            "rps": round(statistics.median(r["rps"] for r in runs)),
            "cpu_us_per_request": round(statistics.median(r["cpu_us"] for r in runs), 1),
        }
    for name in ("one", "two"):
        ratios = [s["rps"] / n["rps"] for s, n in zip(results[name], results["noop"], strict=True)]
        out[name]["rps_ratio"] = round(statistics.median(ratios), 3)
        out[name]["per_core_rps"] = round(1e6 / out[name]["cpu_us_per_request"])
    return out


def run(args: Any, work: Path) -> dict[str, Any]:
    harness.write_requests(work / "noop-ingest.req", [("POST", "/", '{"score": 5}')], {
        "Content-Type": "application/json"})  # fmt: skip
    cluster = Cluster(durable=True, prefix=harness.pinned(harness.SERVER_CORE, []))
    try:
        runs: list[Run] = []
        for round_ in range(args.rounds):
            for connections in args.connections:
                for app in APPS if round_ % 2 == 0 else APPS[::-1]:
                    result = one_ingest(cluster, app, connections, round_, work, args)
                    runs.append(result)
                    print(f"  ingest {app:<17} c={connections:<3} round {round_ + 1}:"
                          f" {result.rps:8,.0f} req/s  p99 {result.p99_ms:6.2f} ms  CPU/req"
                          f" {result.scorelet_cpu_us:5.1f} µs Scorelet"
                          f" + {result.postgres_cpu_us:5.1f} µs PostgreSQL"
                          + (f"  lost {result.lost}" if result.lost is not None else ""),
                          flush=True)  # fmt: skip
        polled = polling(cluster, work, args)
    finally:
        cluster.remove()
    return {
        "by_connections": {str(c): summarize(runs, c) for c in args.connections},
        "polling": polled,
        "runs": [asdict(r) for r in runs],
    }


def summarize(runs: list[Run], connections: int) -> dict[str, Any]:
    mine = [r for r in runs if r.connections == connections]
    noop = {r.round: r for r in mine if r.app == "noop"}
    pg = [r for r in mine if r.app == "scorelet-postgres"]
    scorelet_us = statistics.median(r.scorelet_cpu_us for r in pg)
    postgres_us = statistics.median(r.postgres_cpu_us for r in pg)
    return {
        "noop_rps": round(statistics.median(r.rps for r in noop.values())),
        "postgres_rps": round(statistics.median(r.rps for r in pg)),
        "rps_ratio": round(statistics.median(r.rps / noop[r.round].rps for r in pg), 3),
        "p99_ratio": round(statistics.median(r.p99_ms / noop[r.round].p99_ms for r in pg), 2),
        "scorelet_cpu_us": round(scorelet_us, 1),
        "postgres_cpu_us": round(postgres_us, 1),
        # What one core would take if it did nothing but this (a larger machine, with
        # Scorelet processes and PostgreSQL on cores of their own).
        "ratings_per_core_second": round(1e6 / (scorelet_us + postgres_us)),
        "acks": sum(r.ok for r in pg),
        "lost": sum(r.lost or 0 for r in pg),
    }
