"""Ingest with one notify rule matching every rating, against ingest without, A B A B.

    python bench/routing.py                        # 6 rounds of 6 s at c=64
    python bench/routing.py --duration 2 --rounds 1 --touchpoints 2   # a smoke run

The issue's target: with the rule, ingest keeps at least 0.9x the rate
without it. Every run is `scorelet serve` on a fresh copy of the same data
directory; "notify" adds a webhook destination (a receiver in this
process, on loopback and on the load core, answering 204 over kept-alive
connections) and a rule matching every rating, so every rating writes a
delivery in its own transaction and the worker sends them on the server's
core; "queued" is the same with the destination disabled, so only the
outbox writes are measured. Each run ends with counts: rows added at least
the 2xx wrk saw, and with the rule one delivery per rating.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import harness
from dataset import Dataset
from ingest import bodies

from scorelet.config import DATABASE_FILE
from scorelet.routing.destinations import NewDestination
from scorelet.routing.rules import parse_rule
from scorelet.store import Store


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: it keeps the connection open, as Slack's and Linear's do."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Sink(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Scorelet stopping drops its kept-alive connections: that is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


async def add_rule(data: Path, url: str, send: bool) -> None:
    store = await Store.open(data / DATABASE_FILE, "normal")
    try:
        await store.create_destination(NewDestination("sink", "webhook", url, "whsec_" + "A" * 44))
        await store.create_rule(parse_rule({"name": "every", "notify": ["sink"]}))
    finally:
        await store.close()
    if not send:  # queue only: the destination is disabled, as after a 410
        with contextlib.closing(sqlite3.connect(data / DATABASE_FILE)) as conn, conn:
            conn.execute("UPDATE destinations SET disabled_at = 0, disabled_reason = 'bench'")


def counts(data: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(data / DATABASE_FILE)) as conn:
        rows = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        deliveries = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    return rows, deliveries


KINDS = ("plain", "queued", "notify")


def ratio(runs: list[dict[str, Any]], kind: str) -> float:
    """The median of `kind`'s rate over the plain run's rate of the same round."""
    pairs = [
        a["rps"] / p["rps"]
        for a in runs
        if a["kind"] == kind
        for p in runs
        if p["kind"] == "plain" and p["round"] == a["round"]
    ]
    return round(statistics.median(pairs), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--touchpoints", type=int, default=20)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--sync", default="full", choices=("full", "normal"))
    args = parser.parse_args()
    harness.ensure_wrk()
    # The receiver stands for another machine: it runs on the load core, not Scorelet's.
    if harness.cores() >= 2:
        os.sched_setaffinity(0, {int(harness.LOAD_CORE)})
    sink = Sink(("127.0.0.1", 0), Receiver)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{sink.server_address[1]}/hook"
    env = {"SCORELET_ALLOW_PRIVATE_DESTINATIONS": "1"}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scorelet-routing-bench-") as tmp:
        work = Path(tmp)
        template = work / "template"
        dataset = Dataset.create(template, args.touchpoints, harness.SECRET)
        requests = harness.write_requests(
            work / "ingest.req", bodies(dataset), {"Content-Type": "application/json"}
        )
        for round_ in range(args.rounds):
            order = KINDS if round_ % 2 == 0 else KINDS[::-1]
            for kind in order:
                data = work / f"{kind}-{round_}"
                shutil.copytree(template, data)
                if kind != "plain":
                    asyncio.run(add_rule(data, url, send=kind == "notify"))
                with harness.scorelet(data, args.sync, env=env) as server:
                    harness.warm(server, requests, args.connections, args.warmup)
                    before, _ = counts(data)
                    load = harness.wrk(server, requests, args.connections, args.duration)
                rows, deliveries = counts(data)
                added = rows - before
                lost = max(0, load.ok - added)
                missing = rows - deliveries if kind != "plain" else 0
                runs.append(
                    {
                        "kind": kind,
                        "round": round_,
                        "rps": load.rps,
                        "p99_ms": load.p99_ms,
                        "cpu_us": round(load.cpu_us_per_request, 1),
                        "ok": load.ok,
                        "lost": lost,
                        "deliveries_missing": missing,
                    }
                )
                print(
                    f"  {kind:<6} round {round_ + 1}: {load.rps:8,.0f} req/s"
                    f"  p99 {load.p99_ms:6.2f} ms  {load.cpu_us_per_request:5.1f} µs CPU per rating"
                    f"  rows +{added} for {load.ok} acks,"
                    f" lost {lost}, ratings without a delivery {missing}",
                    flush=True,
                )
                shutil.rmtree(data)
    sink.shutdown()
    result = {
        "ratio": ratio(runs, "notify"),
        "queued_only_ratio": ratio(runs, "queued"),
        "target": 0.9,
        "lost": sum(r["lost"] for r in runs),
        "deliveries_missing": sum(r["deliveries_missing"] for r in runs),
        "runs": runs,
    }
    print(
        f"ingest with a notify rule matching every rating: {result['ratio']}x without"
        f" (target >= 0.9); writing the deliveries only: {result['queued_only_ratio']}x"
    )
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["deliveries_missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
