"""How fast is the dashboard's overview at a million ratings across 20 touchpoints?

    python bench/dashboard.py                     # 1,000,000 ratings, 20 touchpoints
    python bench/dashboard.py --responses 2000    # a smoke run

Ratings are imported through the store and folded, as in bench/breakdown.py;
a real uvicorn server then serves `GET /dashboard` to a signed-in client
(one keep-alive connection), against `GET /healthz` on the same server:

- repeated: the page as a dashboard left open or opened by many gets it
  (its numbers come from the page's cache until a rating changes them);
- after a rating: each call preceded by a new rating, so every one
  recomputes every card (12 weekly buckets, the window and the period
  before it, per touchpoint);
- the touchpoint page, repeated and after a rating, the same way.

Prints p50s in ms and, last, one JSON line with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from breakdown import serving

from scorelet.accounts import Accounts
from scorelet.store import Response, Store
from scorelet.tokens import Signer

DAY = 86400
SECRET = "bench-secret-0123456789abcdef"
EMAIL, PASSWORD = "bench@example.com", "bench password 123"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--touchpoints", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=30, help="timed calls per measurement")
    return parser.parse_args(argv)


def rows(ids: list[int], count: int, days: int) -> Iterator[Response]:
    rng = random.Random(16)
    now = time.time()
    for n in range(count):
        touchpoint = ids[n % len(ids)]
        created = now - rng.random() * days * DAY
        comment = rng.choice((None, None, None, "slow checkout", "great service"))
        yield Response(
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            touchpoint,
            rng.choice((1, 2, 3, 4, 4, 5, 5, 5)),
            comment,
            None,
            {"agent": f"agent-{rng.randrange(30):02d}"},
            created,
            created,
        )


async def fill(database: Path, args: argparse.Namespace) -> float:
    """Touchpoints, ratings (folded) and an account; returns the seconds the import took."""
    store = await Store.open(database, "normal")
    try:
        ids = []
        for i in range(args.touchpoints):
            metric = "nps" if i % 4 == 3 else "csat"
            fields: dict[str, Any] = {"slug": f"tp-{i:02d}", "metric": metric}
            fields["scale"] = "nps" if metric == "nps" else "stars"
            fields["satisfied_from"] = None if metric == "nps" else 4
            ids.append((await store.create_touchpoint(fields)).id)
        started = time.perf_counter()
        await store.import_ratings(list(rows(ids[: args.touchpoints], args.responses, args.days)))
        await Accounts(store, (SECRET,)).add(EMAIL, "viewer", PASSWORD)
    finally:
        await store.close()
    return time.perf_counter() - started


def p50(
    call: Callable[[], object], rounds: int, before: Callable[[], object] | None = None
) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(rounds):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(url: str, rounds: int) -> dict[str, float]:
    with httpx.Client(base_url=url, timeout=60, follow_redirects=True) as client:
        page = client.get("/dashboard/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        signed = client.post(
            "/dashboard/login", data={"email": EMAIL, "password": PASSWORD, "csrf": token[1]}
        )
        assert signed.status_code == 200, signed.text  # followed to the overview
        rating = {"token": Signer((SECRET,)).mint_embed("tp-00", 1), "score": 5}

        def rate() -> None:  # committed before it answers: the next page sees it
            assert client.post("/api/v1/responses", json=rating).status_code in (200, 201)

        def get(path: str) -> Callable[[], None]:
            def call() -> None:
                response = client.get(path)
                assert response.status_code == 200, response.text[:200]

            return call

        results = {"healthz": p50(get("/healthz"), rounds)}
        results["overview_repeated"] = p50(get("/dashboard"), rounds)
        results["overview_after_a_rating"] = p50(get("/dashboard"), rounds, rate)
        results["touchpoint_repeated"] = p50(get("/dashboard/t/tp-00"), rounds)
        results["touchpoint_after_a_rating"] = p50(get("/dashboard/t/tp-00"), rounds, rate)
        results["overview_bytes_gzipped"] = len(
            client.get("/dashboard", headers={"Accept-Encoding": "gzip"}).content
        )
        return {k: round(v, 2) for k, v in results.items()}


def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        (data / "secret").write_text(SECRET + "\n")
        seconds = asyncio.run(fill(data / "scorelet.sqlite3", args))
        print(
            f"{args.responses:,} ratings across {args.touchpoints} touchpoints:"
            f" imported and folded in {seconds:.1f} s"
        )
        with serving(data) as url:
            results = measure(url, args.rounds)
    for name, value in results.items():
        print(f"  {name:<28} {value:>10}{'' if 'bytes' in name else ' ms'}")
    return {"responses": args.responses, "touchpoints": args.touchpoints, **results}


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        print(json.dumps(main(parse())))
