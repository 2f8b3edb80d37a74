"""Score polling against a no-op GET, and how score and breakdown latency grow with data.

One data directory grows through the sizes (1k, 100k, 1M, 10M ratings, all on
one touchpoint: the worst case for that touchpoint's numbers) by the bulk
path in dataset.py. At each size a fresh `scorelet serve` answers:

- flatness: p50 of `GET …/score` and `GET …/breakdown?by=agent` at one
  connection (latency without queueing), as a poller sees them; and, for
  the honest cold cost behind the answer cache, the median time of the
  queries a cache miss runs (a 30-day score window and the all-time
  breakdown), called directly on the file;
- polling, at the size given by --polling-responses: `GET …/score` as 200
  and as 304 (If-None-Match) against the no-op's GET, A B A B, at c=64.
"""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
from dataset import Dataset, Spread, bulk_fill

from scorelet.store.sqlite import reads

DAY = 86400


def score_path(dataset: Dataset) -> str:
    return f"/api/v1/touchpoints/{dataset.touchpoints[0].slug}/score"


def cold_queries(dataset: Dataset, rounds: int) -> dict[str, float]:
    """Median ms of what a cache miss costs: a 30-day window score and the breakdown."""
    tp = dataset.touchpoints[0].id
    since = time.time() - 30 * DAY - 4321.5  # not on a day boundary: edges come from rows
    with contextlib.closing(sqlite3.connect(dataset.database)) as conn:

        def timed(call: Callable[[], object]) -> float:
            return round(harness.median_seconds(call, rounds) * 1000, 3)

        return {
            "score_30_days_ms": timed(lambda: reads.counts(conn, tp, since, None, {})),
            "breakdown_ms": timed(lambda: reads.breakdown(conn, tp, "agent", None, None, {})),
        }


def p50_at_one(server: harness.Server, request: Path, duration: float) -> float:
    return harness.wrk(server, request, 1, duration).p50_ms


def requests(dataset: Dataset, work: Path) -> dict[str, Path]:
    auth = {"Authorization": f"Bearer {dataset.read_key}"}
    base = score_path(dataset)
    return {
        "score": harness.write_requests(work / "score.req", [("GET", base, "")], auth),
        "breakdown": harness.write_requests(
            work / "breakdown.req",
            [("GET", base.removesuffix("score") + "breakdown?by=agent", "")],
            auth,
        ),
        "noop": harness.write_requests(work / "noop-get.req", [("GET", base, "")], {}),
    }


def run(args: Any, work: Path) -> dict[str, Any]:
    dataset = Dataset.create(work / "polling", 1, harness.SECRET)
    tp = dataset.touchpoints[0]
    paths = requests(dataset, work)
    sizes = sorted(set(args.sizes) | {args.polling_responses})
    flatness: dict[str, Any] = {}
    polling: dict[str, Any] = {}
    filled = 0
    with harness.noop() as noop:
        for size in sizes:
            seconds = bulk_fill(dataset, tp, size - filled, Spread())
            print(f"  {size:,} ratings: +{size - filled:,} written in {seconds:.1f} s", flush=True)
            filled = size
            with harness.scorelet(dataset.data_dir, args.sync) as server:
                check_score(server, dataset, size)
                if size in args.sizes:
                    flatness[str(size)] = {
                        "score_p50_ms": p50_at_one(server, paths["score"], args.flat_duration),
                        "breakdown_p50_ms": p50_at_one(
                            server, paths["breakdown"], args.flat_duration
                        ),
                        "noop_p50_ms": p50_at_one(noop, paths["noop"], args.flat_duration),
                        "cold": cold_queries(dataset, args.cold_rounds),
                        "fill_seconds": round(seconds, 1),
                    }
                    print(f"  flatness {size:,}: {flatness[str(size)]}", flush=True)
                if size == args.polling_responses:
                    polling = poll(args, server, noop, dataset, work, paths)
    return {"responses": args.polling_responses, "polling": polling, "flatness": flatness}


def check_score(server: harness.Server, dataset: Dataset, size: int) -> None:
    status, _, body = harness.fetch(
        server.url + score_path(dataset),
        {"Authorization": f"Bearer {dataset.read_key}"},
    )
    if status != 200 or f'"responses":{size},' not in body.decode():
        raise RuntimeError(f"the score does not count {size} responses: {status} {body[:300]!r}")


def poll(
    args: Any,
    server: harness.Server,
    noop: harness.Server,
    dataset: Dataset,
    work: Path,
    paths: dict[str, Path],
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {dataset.read_key}"}
    _, headers, _ = harness.fetch(server.url + score_path(dataset), auth)
    etag = headers["etag"]
    revalidate = harness.write_requests(
        work / "score-304.req", [("GET", score_path(dataset), "")], {**auth, "If-None-Match": etag}
    )
    kinds = {"noop": (noop, paths["noop"]), "score_200": (server, paths["score"]),
             "score_304": (server, revalidate)}  # fmt: skip
    runs: dict[str, list[harness.Load]] = {name: [] for name in kinds}
    for round_ in range(args.rounds):
        order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
        for name in order:
            target, request = kinds[name]
            harness.warm(target, request, 64, args.warmup)
            load = harness.wrk(target, request, 64, args.duration)
            expected = load.not_modified if name == "score_304" else load.ok
            if expected != load.requests or load.socket_errors:
                raise RuntimeError(f"{name}: unexpected answers {load}")
            runs[name].append(load)
            print(f"  polling {name:<9} round {round_ + 1}: {load.rps:8,.0f} req/s"
                  f"  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms"
                  f"  {load.cpu_us_per_request:5.1f} µs CPU/req", flush=True)  # fmt: skip
    out: dict[str, Any] = {}
    for name, loads in runs.items():
        out[name] = {
            "rps": round(statistics.median(x.rps for x in loads)),
            "p50_ms": round(statistics.median(x.p50_ms for x in loads), 3),
            "p99_ms": round(statistics.median(x.p99_ms for x in loads), 3),
            "cpu_us_per_request": round(statistics.median(x.cpu_us_per_request for x in loads), 1),
        }
        rates = [x.rps for x in loads]
        out[name]["spread"] = round(max(rates) / min(rates), 2) if min(rates) > 0 else None
        if name != "noop":
            ratios = [x.rps / n.rps for x, n in zip(loads, runs["noop"], strict=True)]
            out[name]["rps_ratio"] = round(statistics.median(ratios), 3)
    return out
