"""`scorelet serve` as a real process: first start, restarts, signals, durability."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from backends import database_args, database_env, read_contents
from conftest import TLS
from scorelet.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(
    data: Path, env: dict[str, str] | None = None, *args: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCORELET_")}
    # faulthandler: a start that hangs is aborted below and says where it hung.
    environ |= {"SCORELET_PORT": str(port), "PYTHONFAULTHANDLER": "1", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "scorelet", "serve", "--data", str(data), *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 45  # a slow start on a loaded 2-core machine, not a hang
    with httpx.Client(timeout=1, verify=TLS) as poll:
        while not started(poll, url):
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    process.send_signal(signal.SIGABRT)  # faulthandler prints every stack
                try:
                    output = process.communicate(timeout=10)[0]
                except subprocess.TimeoutExpired:
                    process.kill()
                    output = process.communicate()[0]
                raise AssertionError(f"server did not start: {output}{database_activity(environ)}")
            time.sleep(0.05)
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def started(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url + "/healthz").status_code == 200
    except httpx.TransportError:
        return False


def database_activity(environ: dict[str, str]) -> str:
    """What the PostgreSQL server was doing, for a start that failed (nothing for SQLite)."""
    url = environ.get("SCORELET_DATABASE_URL")
    if not url:
        return ""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT a.pid, a.state, a.wait_event_type, a.wait_event, l.locktype, l.granted,"
                " left(a.query, 80) FROM pg_stat_activity a LEFT JOIN pg_locks l"
                " ON l.pid = a.pid AND l.locktype = 'advisory'"
                " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
            ).fetchall()
            total = conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()
    except Exception as error:  # the report is best effort: the failure is the start's
        return f"\n(database: {error})"
    lines = "\n".join(map(str, rows))
    return f"\ndatabase sessions ({total[0] if total else '?'} on the server):\n{lines}"


def setup_touchpoint(data: Path, slug: str = "checkout", kind: str = "sqlite") -> str:
    """Add a touchpoint with the CLI (on `kind` of database); returns its embed token."""
    new = not data.exists()
    where = database_args(kind, data)
    if new:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["init", "--no-demos", *where]) == 0
    assert main(["touchpoint", "add", slug, "--metric", "csat", *where]) == 0
    from scorelet.config import Settings
    from scorelet.signing import signing_settings
    from scorelet.tokens import Signer

    settings = Settings(
        data_dir=data, database_url=database_env(kind, data).get("SCORELET_DATABASE_URL")
    )
    return Signer(signing_settings(settings).secrets).mint_embed(slug, 1)


def test_first_start_creates_data_dir_database_and_private_secret(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    with serving(data) as (process, url):
        assert httpx.get(url + "/healthz").json()["status"] == "ok"
        secret = data / "secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert len(secret.read_text().strip()) >= 32
        assert read_contents(data).check.equal
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert url in output
    assert "Scorelet stopped." in output
    assert "scorelet touchpoint add" in output


def test_tokens_and_data_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = setup_touchpoint(data)
    with serving(data) as (process, url):
        assert (
            httpx.post(url + "/api/v1/responses", json={"token": token, "score": 5}).status_code
            == 201
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    assert process.returncode == -signal.SIGTERM
    wal = data / "scorelet.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # closed cleanly: checkpointed
    with serving(data) as (_, url):
        assert (
            httpx.post(url + "/api/v1/responses", json={"token": token, "score": 4}).status_code
            == 201
        )
    assert sorted(read_contents(data).scores.values()) == [4, 5]


def test_environment_settings_are_honoured(tmp_path: Path) -> None:
    data = tmp_path / "envdata"
    secret = "an-explicit-secret-from-env-123"
    with serving(data, {"SCORELET_SECRET": f"{secret},an-older-secret-0000000"}) as (_, url):
        assert httpx.get(url + "/healthz").status_code == 200
    assert not (data / "secret").exists()


def test_bad_settings_fail_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scorelet", "serve", "--data", str(tmp_path)],
        env={**os.environ, "SCORELET_SECRET": "short"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "SCORELET_SECRET" in result.stderr


def test_acknowledged_ratings_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = setup_touchpoint(data)
    acknowledged: list[str] = []
    with serving(data, {"SCORELET_RATE_LIMIT": "off"}) as (process, url):

        def post(score: int) -> str | None:
            try:
                response = httpx.post(
                    url + "/api/v1/responses",
                    json={"token": token, "score": score % 5 + 1},
                    timeout=5,
                )
            except httpx.TransportError:
                return None
            return str(response.json()["id"]) if response.status_code == 201 else None

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(post, i) for i in range(400)]
            deadline = time.monotonic() + 30
            # Kill mid-stream: once some ratings are acknowledged, however busy the machine.
            while sum(f.done() for f in futures) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            acknowledged = [id_ for f in futures if (id_ := f.result()) is not None]
        process.wait()
    assert acknowledged, "no rating was acknowledged before the kill"
    assert len(acknowledged) < 400, "the kill came after every rating: nothing was tested"
    stored = read_contents(data)
    assert set(acknowledged) <= set(stored.scores)
    assert stored.check.equal
