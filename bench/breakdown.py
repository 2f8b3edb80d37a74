"""How fast is a breakdown by agent at a million ratings? Prints p50s and ratios to a no-op.

    python bench/breakdown.py                      # 1,000,000 ratings across 100 agents
    python bench/breakdown.py --responses 2000     # a smoke run

Ratings are loaded with the store's own import, and folded into the rollups
as ratings that arrive over HTTP are. Then it times, each against a no-op of
the same path (so the ratio carries over between machines):

- `Store.breakdown(by agent)` over all time and over the last 30 days
  (whole days come from rollups, the partial days at the edges from rows),
  against `Store.response(id)` (one indexed row: a reader-thread round trip);
- `GET /api/v1/touchpoints/{slug}/breakdown?by=agent` on a real uvicorn
  server, against `GET /healthz`: polled again and again (the endpoint's
  answer cache), and with a new window on every call (computed each time).

It also checks the breakdown is exact: the per-agent counts equal a
GROUP BY over the raw rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import harness
import httpx

from scorelet.app import create_app
from scorelet.config import Settings
from scorelet.store import Response, Store
from scorelet.testing import free_socket, serve_in_thread

SLUG = "support-chat"
DAY = 86400
SECRET = "bench-secret-0123456789abcdef"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--days", type=int, default=365, help="spread ratings over this many days")
    parser.add_argument("--rounds", type=int, default=50, help="timed calls per measurement")
    parser.add_argument("--data", type=Path, help="data directory (default: a temporary one)")
    parser.add_argument(
        "--reuse", action="store_true", help="time the ratings already in --data; write none"
    )
    return parser.parse_args(argv)


# -- data ---------------------------------------------------------------------------------


async def make_touchpoint(database: Path) -> tuple[int, str]:
    """Create the schema, the touchpoint and a read key; returns (touchpoint id, key)."""
    store = await Store.open(database, "normal")
    try:
        touchpoint = await store.create_touchpoint(
            {"slug": SLUG, "metric": "csat", "scale": "stars", "satisfied_from": 4}
        )
        _, key = await store.create_api_key("read", "bench")
    finally:
        await store.close()
    return touchpoint.id, key


async def reuse(database: Path) -> tuple[int, str]:
    """The touchpoint of an earlier run, and a new read key."""
    store = await Store.open(database, "normal")
    try:
        touchpoint = store.touchpoint(SLUG)
        if touchpoint is None:
            sys.exit(f"{database} has no {SLUG!r} touchpoint: not a benchmark database")
        _, key = await store.create_api_key("read", "bench")
    finally:
        await store.close()
    return touchpoint.id, key


def rows(touchpoint_id: int, count: int, agents: int, days: int) -> Iterator[Response]:
    """Ratings with agent, team and channel; each agent has its own typical score."""
    rng = random.Random(8812)
    now = time.time()
    skill = [rng.uniform(0.4, 0.95) for _ in range(agents)]
    channels = ("web", "email", "phone")
    for n in range(count):
        agent = rng.randrange(agents)
        score = 5 if rng.random() < skill[agent] else rng.randint(1, 4)
        context = {
            "agent": f"agent-{agent:03d}",
            "team": f"team-{agent % 10}",
            "channel": channels[n % 3],
        }
        created = now - rng.random() * days * DAY
        response_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        yield Response(
            response_id, touchpoint_id, score, None, f"conv_{n}", context, created, created
        )


async def fill(database: Path, touchpoint_id: int, count: int, agents: int, days: int) -> float:
    """Import `count` ratings and fold them; returns the seconds it took."""
    started = time.perf_counter()
    store = await Store.open(database, "normal")
    try:
        await store.import_ratings(list(rows(touchpoint_id, count, agents, days)))
    finally:
        await store.close()  # folds what was imported
    return time.perf_counter() - started


def raw_breakdown(database: Path, touchpoint_id: int, since: float | None) -> dict[str, int]:
    """Per-agent counts straight from the rows: what the breakdown must equal."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        found = conn.execute(
            "SELECT json_extract(context, '$.agent'), count(*) FROM responses"
            " WHERE touchpoint_id = ? AND created_at >= ? GROUP BY 1",
            (touchpoint_id, since if since is not None else -1e18),
        ).fetchall()
    return dict(found)


# -- timing -------------------------------------------------------------------------------


async def p50(call: Callable[[], Awaitable[Any]], rounds: int) -> float:
    """Median seconds of `rounds` calls, after a few warm-up calls."""
    for _ in range(min(5, rounds)):
        await call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(name: str, seconds: float, baseline: float) -> dict[str, float]:
    print(f"  {name:<46} p50 {seconds * 1000:9.3f} ms   x no-op {seconds / baseline:8.1f}")
    return {"p50_ms": round(seconds * 1000, 3), "x_noop": round(seconds / baseline, 1)}


async def time_store(
    database: Path, touchpoint_id: int, rounds: int, since: float
) -> dict[str, Any]:
    store = await Store.open(database, "normal")
    try:
        exact = {
            k: sum(v.values()) for k, v in (await store.breakdown(touchpoint_id, "agent")).items()
        }
        assert exact == raw_breakdown(database, touchpoint_id, None), "breakdown is not exact"
        recent = await store.breakdown(touchpoint_id, "agent", since=since)
        recent_counts = {k: sum(v.values()) for k, v in recent.items()}
        assert recent_counts == raw_breakdown(database, touchpoint_id, since), "window not exact"
        missing = str(uuid.uuid4())
        noop = await p50(lambda: store.response(missing), rounds)
        print("store (reader thread):")
        results: dict[str, Any] = {"noop": report("Store.response(id) [no-op]", noop, noop)}
        results["all_time"] = report(
            "Store.breakdown(by agent), all time",
            await p50(lambda: store.breakdown(touchpoint_id, "agent"), rounds),
            noop,
        )
        results["last_30_days"] = report(
            "Store.breakdown(by agent), last 30 days",
            await p50(lambda: store.breakdown(touchpoint_id, "agent", since=since), rounds),
            noop,
        )
        results["agents"] = len(exact)
        return results
    finally:
        await store.close()


@contextlib.contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """Scorelet on uvicorn in a thread, on a free port, as the test suite runs it."""
    sock = free_socket()
    settings = Settings(
        data_dir=data_dir,
        port=sock.getsockname()[1],
        secrets=(SECRET,),
        synchronous="normal",
        rate_limit=False,
    )
    with serve_in_thread(create_app(settings), sock) as url:
        yield url


def time_http(data_dir: Path, key: str, rounds: int, since: float) -> dict[str, Any]:
    """Repeated polls hit the endpoint's answer cache; a new window each call misses it.

    A plain blocking client: it adds far less per request than an async one.
    """
    with serving(data_dir) as url:
        headers = {"authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            path = f"/api/v1/touchpoints/{SLUG}/breakdown"
            probe = client.get(path, params={"by": "agent"})
            if probe.status_code == 404 and probe.json().get("code") == "not_found":
                print("HTTP: no breakdown endpoint in this version; skipped")
                return {}
            probe.raise_for_status()
            calls = iter(range(10**9))

            def get(target: str, **params: str) -> None:
                client.get(target, params=params).raise_for_status()

            def far_future() -> str:  # a distinct `until` per call: never a cached answer
                return str(int(time.time()) + 10 * 365 * DAY + next(calls))

            def moving_since() -> str:
                return str(int(since) + next(calls))

            def timed(call: Callable[[], object]) -> float:
                return harness.median_seconds(call, rounds, warmup=min(5, rounds))

            noop = timed(lambda: get("/healthz"))
            print("HTTP (uvicorn, one keep-alive connection):")
            results: dict[str, Any] = {"noop": report("GET /healthz [no-op]", noop, noop)}
            results["cached_poll"] = report(
                "GET …/breakdown?by=agent, repeated (cached)",
                timed(lambda: get(path, by="agent")),
                noop,
            )
            results["all_time"] = report(
                "GET …/breakdown?by=agent, uncached",
                timed(lambda: get(path, by="agent", until=far_future())),
                noop,
            )
            results["last_30_days"] = report(
                "GET …/breakdown?by=agent&since=30 days ago",
                timed(lambda: get(path, by="agent", since=moving_since())),
                noop,
            )
            return results


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        data_dir = args.data or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database = data_dir / "scorelet.sqlite3"
        if database.exists() and not args.reuse:
            sys.exit(f"{database} exists; give an empty --data directory, or --reuse it")
        if database.exists():
            touchpoint_id, key = await reuse(database)
            seconds = 0.0
            print(f"reusing {database}")
        else:
            touchpoint_id, key = await make_touchpoint(database)
            seconds = await fill(database, touchpoint_id, args.responses, args.agents, args.days)
            print(
                f"{args.responses:,} ratings across {args.agents} agents over {args.days} days:"
                f" imported and folded in {seconds:.1f} s ({args.responses / seconds:,.0f} rows/s)"
            )
        since = time.time() - 30 * DAY - 4321.5  # not on a day boundary: edges come from rows
        results: dict[str, Any] = {"responses": args.responses, "fill_seconds": round(seconds, 1)}
        results["store"] = await time_store(database, touchpoint_id, args.rounds, since)
        results["http"] = time_http(data_dir, key, args.rounds, since)
        return results


if __name__ == "__main__":
    outcome = asyncio.run(main(parse()))
    print(json.dumps(outcome))
