"""Soak test: hold half of the measured capacity for a while; report errors, RSS and p99.

    python bench/soak.py                 # measure capacity, then 10 minutes at half of it
    python bench/soak.py --minutes 2     # shorter
    python bench/soak.py --rate 3000     # skip the measurement, hold 3000 ratings/s

It starts `scorelet serve` on a fresh data directory (rate limits off: the
load comes from one address), adds a touchpoint, and posts ratings from a
small HTTP/1.1 client of its own on keep-alive connections: a full-featured
client would need more CPU than the server and measure itself. The load is
open-loop: request i is due at start + i / rate and its latency is counted
from then, so a stalled server shows up in the tail instead of slowing the
load down (no coordinated omission). Not part of the test suite; run it on
an otherwise idle machine. Every line of output is also written as JSON
with --json FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_EVERY = 10.0


@dataclass
class Window:
    """What happened in one reporting interval."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, latency: float, status: int) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 300:
            self.errors += 1


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextmanager
def server(data: Path, sync: str) -> Iterator[tuple[subprocess.Popen[bytes], int, str]]:
    """`scorelet serve` on a free port with one touchpoint; yields (process, port, token)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCORELET_")}
    environ |= {"SCORELET_RATE_LIMIT": "off", "SCORELET_DATA": str(data), "SCORELET_SYNC": sync}
    scorelet = [sys.executable, "-m", "scorelet"]
    subprocess.run([*scorelet, "init", "--no-demos"], env=environ, check=True, capture_output=True)
    subprocess.run(
        [*scorelet, "touchpoint", "add", "soak", "--metric", "csat"],
        env=environ,
        check=True,
        capture_output=True,
    )
    token = subprocess.run(
        [*scorelet, "embed", "soak", "--token"],
        env=environ,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [*scorelet, "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("soak: the server did not start") from None
                time.sleep(0.05)
        yield process, port, token
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


class Connection:
    """One keep-alive HTTP/1.1 connection that posts ratings and reads the status."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.bodies = [
            json.dumps({"token": token, "score": score}).encode() for score in range(1, 6)
        ]
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, n: int) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = self.bodies[n % 5]
        self.writer.write(
            b"POST /api/v1/responses HTTP/1.1\r\nHost: soak\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def measure_capacity(port: int, token: str, seconds: float, connections: int) -> float:
    """Closed loop: as fast as `connections` clients go; returns ratings per second."""
    done = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        connection = Connection(port, token)
        while time.monotonic() < stop:
            if await connection.post(done) < 300:
                done += 1
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return done / (time.monotonic() - started)


async def hold(
    port: int, token: str, rate: float, seconds: float, connections: int, pid: int, emit: Any
) -> dict[str, Any]:
    """Open loop at `rate`: request i is due at start + i / rate, latency counted from then."""
    start = time.monotonic()
    total = int(rate * seconds)
    next_index = 0
    window, everything = Window(), Window()
    window_start = start

    async def client() -> None:
        nonlocal next_index
        connection = Connection(port, token)
        while next_index < total:
            index = next_index
            next_index += 1
            due = start + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                status = await connection.post(index)
            except (OSError, asyncio.IncompleteReadError):
                connection.close()
                status = 599
            latency = time.monotonic() - due
            window.add(latency, status)
            everything.add(latency, status)
        connection.close()

    async def reporter() -> None:
        nonlocal window, window_start
        while next_index < total:
            await asyncio.sleep(REPORT_EVERY)
            now = time.monotonic()
            current, window = window, Window()
            emit(
                {
                    "t": round(now - start, 1),
                    "rate": round(len(current.latencies) / (now - window_start), 1),
                    "p50_ms": round(percentile(current.latencies, 0.50) * 1000, 2),
                    "p99_ms": round(percentile(current.latencies, 0.99) * 1000, 2),
                    "errors": current.errors,
                    "rss_mib": round(rss_kib(pid) / 1024, 1),
                }
            )
            window_start = now

    report = asyncio.create_task(reporter())
    await asyncio.gather(*(client() for _ in range(connections)))
    report.cancel()
    elapsed = time.monotonic() - start
    return {
        "requests": len(everything.latencies),
        "seconds": round(elapsed, 1),
        "achieved_rate": round(len(everything.latencies) / elapsed, 1),
        "errors": everything.errors,
        "statuses": everything.statuses,
        "p50_ms": round(percentile(everything.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(everything.latencies, 0.99) * 1000, 2),
        "p999_ms": round(percentile(everything.latencies, 0.999) * 1000, 2),
        "max_ms": round(max(everything.latencies, default=0) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to hold (10)")
    parser.add_argument("--seconds", type=float, help="how long to hold, in seconds instead")
    parser.add_argument("--rate", type=float, help="ratings/s to hold (default: half capacity)")
    parser.add_argument("--measure-seconds", type=float, default=10.0, help="capacity run (10)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument(
        "--sync", choices=("full", "normal"), default="full", help="SCORELET_SYNC (full)"
    )
    parser.add_argument("--data", type=Path, help="data directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    lines: list[dict[str, Any]] = []

    def emit(line: dict[str, Any]) -> None:
        lines.append(line)
        print(json.dumps(line), flush=True)

    with tempfile.TemporaryDirectory(prefix="scorelet-soak-") as scratch:
        data = args.data or Path(scratch) / "data"
        with server(data, args.sync) as (process, port, token):
            rss_start = rss_kib(process.pid)
            if args.rate is None:
                capacity = asyncio.run(
                    measure_capacity(port, token, args.measure_seconds, args.connections)
                )
                rate = capacity / 2
                emit({"capacity_per_s": round(capacity, 1), "holding_per_s": round(rate, 1)})
            else:
                rate = args.rate
            summary = asyncio.run(
                hold(port, token, rate, seconds, args.connections, process.pid, emit)
            )
            summary |= {
                "target_rate": round(rate, 1),
                "rss_start_mib": round(rss_start / 1024, 1),
                "rss_end_mib": round(rss_kib(process.pid) / 1024, 1),
            }
            emit({"summary": summary})
    if args.json:
        args.json.write_text(json.dumps(lines, indent=2) + "\n")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
