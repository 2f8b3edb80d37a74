"""What every benchmark needs: pinned server processes, wrk runs, CPU and memory readings.

Servers run on core 0 and wrk on core 1 (`taskset`), so the load generator never
competes with the server it measures. Every process started here is stopped by
its PID when its block ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

BENCH = Path(__file__).resolve().parent
LOAD_SCRIPT = BENCH / "load.lua"
SERVER_CORE = "0"
LOAD_CORE = "1"
SECRET = "bench-secret-0123456789abcdef"
TICKS = os.sysconf("SC_CLK_TCK")


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pinned(core: str, argv: Sequence[str]) -> list[str]:
    """`argv` pinned to `core`, when the machine has the two cores the bench assumes."""
    if cores() >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", core, *argv]
    return list(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running server process: its URL and PID."""

    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_kb(self) -> int:
        """VmHWM: the most resident memory the process has had."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc status")


def scorelet_env(
    data_dir: Path, port: int, sync: str, database_url: str | None = None
) -> dict[str, str]:
    return {
        **os.environ,
        **({"SCORELET_DATABASE_URL": database_url} if database_url else {}),
        "SCORELET_DATA": str(data_dir),
        "SCORELET_PORT": str(port),
        "SCORELET_SECRET": SECRET,
        "SCORELET_RATE_LIMIT": "off",
        "SCORELET_SYNC": sync,
    }


@contextlib.contextmanager
def running(argv: Sequence[str], env: dict[str, str], port: int) -> Iterator[Server]:
    """Start `argv` pinned to the server core, wait until it answers, stop it by PID."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            pinned(SERVER_CORE, argv), env=env, stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(f"http://127.0.0.1:{port}", process)
        try:
            wait_until_up(server, log)
            yield server
        finally:
            stop(process)


def wait_until_up(server: Server, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited at start:\n{log.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), 1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down cleanly: the writer commits what is queued), then wait."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scorelet(
    data_dir: Path,
    sync: str = "full",
    database_url: str | None = None,
    env: dict[str, str] | None = None,
) -> contextlib.AbstractContextManager[Server]:
    """`scorelet serve` on `data_dir`'s SQLite file, or on PostgreSQL at `database_url`."""
    port = free_port()
    argv = [sys.executable, "-m", "scorelet", "serve"]
    environ = {**scorelet_env(data_dir, port, sync, database_url), **(env or {})}
    return running(argv, environ, port)


def noop() -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    return running([sys.executable, str(BENCH / "noop.py"), str(port)], dict(os.environ), port)


def floor(
    database: Path, sync: str = "full", schema: bool = False
) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    kind = "schema" if schema else "bare"
    argv = [sys.executable, str(BENCH / "floor.py"), str(port), str(database), sync, kind]
    return running(argv, dict(os.environ), port)


def median_seconds(call: Callable[[], object], rounds: int, warmup: int = 1) -> float:
    """The median wall time of `call` over `rounds` calls, after `warmup` unmeasured ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- wrk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One wrk run's outcome, with the server's CPU time over it."""

    requests: int
    seconds: float
    ok: int
    not_modified: int
    other: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed when missing (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("the benchmarks need wrk: sudo apt-get install wrk")
    return found


def write_requests(
    path: Path, requests: Sequence[tuple[str, str, str]], headers: dict[str, str]
) -> Path:
    """The request file load.lua reads: headers, then (method, path, body) per line."""
    lines = [f"H\t{name}\t{value}" for name, value in headers.items()]
    for method, target, body in requests:
        if "\t" in body or "\n" in body:
            raise ValueError("request bodies for load.lua must be one line without tabs")
        lines.append(f"R\t{method}\t{target}\t{body}")
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(server: Server, requests_file: Path, connections: int, duration: float) -> Load:
    """Run wrk (one thread, pinned to the load core) against `server` for `duration` s."""
    argv = [
        ensure_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LOAD_SCRIPT),
        server.url,
        "--",
        str(requests_file),
    ]
    if duration <= 0:
        raise ValueError("wrk needs a duration of at least a second")
    cpu_before = server.cpu_seconds()
    done = subprocess.run(
        pinned(LOAD_CORE, argv), capture_output=True, text=True, timeout=duration + 60
    )
    cpu = server.cpu_seconds() - cpu_before
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    found = json.loads(lines[-1].removeprefix("RESULT "))
    requests = found["requests"]
    return Load(
        requests=requests,
        seconds=found["duration_us"] / 1e6,
        ok=found["ok"],
        not_modified=found["not_modified"],
        other=found["other"],
        socket_errors=found["socket_errors"],
        p50_ms=found["p50_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
        cpu_us_per_request=cpu * 1e6 / requests if requests else 0.0,
    )


def warm(server: Server, requests_file: Path, connections: int, duration: float) -> None:
    """An unmeasured run first (lazy imports, caches, connection set-up)."""
    if duration > 0:
        wrk(server, requests_file, connections, duration)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET: status, headers (names in lower case) and the body as sent (not decompressed)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _lower(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers.items()), error.read()


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}
