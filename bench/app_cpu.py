"""CPU microseconds per request of the Scorelet ASGI app alone: no uvicorn, no sockets.

    python bench/app_cpu.py ingest            # POST /api/v1/responses, 64 at a time
    python bench/app_cpu.py score             # GET …/score (answered from the cache)
    python bench/app_cpu.py ingest --profile  # the same under py-spy (pip install py-spy)

Requests are driven straight into the app with `asyncio.gather`, 64 at a time,
on uvloop, and the process's CPU time (all threads: the writer's SQLite work
too) is divided by the requests, with the event loop thread's share beside
it (the rest is SQLite's threads: the writer and the reader). This is the
number to compare before and after a change to the request path: it leaves
out the HTTP server and the load generator, so it moves less on a busy
machine than wrk's req/s do.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import ingest
import uvloop
from dataset import Dataset, bulk_fill
from starlette.types import ASGIApp, Message

from scorelet.app import create_app
from scorelet.config import Settings

BATCH = 64


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=("ingest", "score"))
    parser.add_argument("--requests", type=int, default=6400, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sync", choices=("normal", "full"), default="normal",
                        help="SCORELET_SYNC (normal: keep the disk out of it)")  # fmt: skip
    parser.add_argument("--profile", type=Path, nargs="?", const=Path("profile.txt"),
                        help="record a py-spy profile (collapsed stacks) to this file")  # fmt: skip
    return parser.parse_args(argv)


def scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip


async def call(
    app: ASGIApp, request: dict[str, Any], body: bytes, statuses: dict[int, int]
) -> None:
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a client that never disconnects
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    await app(request, receive, send)


def requests(dataset: Dataset, path: str) -> Callable[[int], tuple[dict[str, Any], bytes]]:
    if path == "score":
        auth = [(b"authorization", f"Bearer {dataset.read_key}".encode())]
        request = scope("GET", f"/api/v1/touchpoints/{dataset.touchpoints[0].slug}/score", auth)
        return lambda _: (request, b"")
    bodies = [body.encode() for _, _, body in ingest.bodies(dataset)]
    made = [
        scope(
            "POST",
            "/api/v1/responses",
            [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        )
        for body in bodies
    ]
    return lambda n: (made[n % len(made)], bodies[n % len(bodies)])


async def measure(app: ASGIApp, make: Callable[[int], tuple[dict[str, Any], bytes]],
                  args: argparse.Namespace,
                  ) -> tuple[list[tuple[float, float]], dict[int, int]]:  # fmt: skip
    statuses: dict[int, int] = {}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    life = asyncio.ensure_future(app(lifespan, inbox.get, outbox.put))
    if (await outbox.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")
    per_request = []
    for _ in range(args.rounds):
        started, loop_started = time.process_time(), time.thread_time()
        for first in range(0, args.requests, BATCH):
            calls: list[Awaitable[None]] = []
            for n in range(first, first + BATCH):
                request, body = make(n)
                calls.append(call(app, dict(request), body, statuses))
            await asyncio.gather(*calls)
        total = (time.process_time() - started) / args.requests * 1e6
        loop = (time.thread_time() - loop_started) / args.requests * 1e6
        per_request.append((total, loop))
    await inbox.put({"type": "lifespan.shutdown"})
    await life
    return per_request, statuses


def main(args: argparse.Namespace) -> None:
    if args.profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        argv = [spy, "record", "-r", "250", "--format", "raw", "--threads", "-o",
                str(args.profile), "--", sys.executable, __file__, args.path,
                "--requests", str(args.requests), "--rounds", str(args.rounds),
                "--sync", args.sync]  # fmt: skip
        sys.exit(subprocess.run(argv).returncode)
    with tempfile.TemporaryDirectory() as scratch:
        dataset = Dataset.create(Path(scratch), 50, harness.SECRET)
        if args.path == "score":
            bulk_fill(dataset, dataset.touchpoints[0], 1000)
        settings = Settings(data_dir=Path(scratch), secrets=(harness.SECRET,), rate_limit=False,
                            synchronous=args.sync)  # fmt: skip
        app = create_app(settings)
        rounds, statuses = uvloop.run(measure(app, requests(dataset, args.path), args))
    best, loop = min(rounds)
    print("  event loop by round:", " ".join(f"{loop_us:.1f}" for _, loop_us in rounds))
    print(f"{args.path}: CPU µs per request by round: {' '.join(f'{r:.1f}' for r, _ in rounds)}"
          f"  (min {best:.1f}: event loop {loop:.1f}, other threads {best - loop:.1f};"
          f" answers {statuses})")  # fmt: skip


if __name__ == "__main__":
    main(parse())
