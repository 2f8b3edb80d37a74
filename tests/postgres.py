"""A throwaway PostgreSQL server for the tests: one cluster per test process.

It is made with the installed server's own `initdb` and `pg_ctl` in a
temporary directory, listens on 127.0.0.1 on a free port, and is stopped when
the test process ends. Each test (each data directory) gets a database of its
own. Set SCORELET_TEST_POSTGRES_URL to use a server you run instead; every
test then makes its databases there and drops none.

The PostgreSQL tests are not optional: without a server they fail and say how
to install one (`scripts/test` checks first).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

URL_FILE = "postgres-url"  # in a test's data directory: which database is its own


def binaries() -> Path:
    """Where `initdb` and `pg_ctl` are: PATH, else Debian's versioned directories."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise RuntimeError(
        "the PostgreSQL tests need a PostgreSQL server installed"
        " (Debian/Ubuntu: sudo apt-get install postgresql), or SCORELET_TEST_POSTGRES_URL"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A PostgreSQL server of our own, run as the current user (or `postgres` under root,
    which initdb refuses to run as)."""

    def __init__(self, durable: bool = False, prefix: Sequence[str] = ()) -> None:
        """`durable`: fsync as PostgreSQL does by default (the benchmarks); the tests
        skip it. `prefix` runs the server under a command (`taskset -c 0`)."""
        self.durable = durable
        self.prefix = list(prefix)
        self.root = Path(tempfile.mkdtemp(prefix="scorelet-pg-"))
        self.port = _free_port()
        self.bin = binaries()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "scorelet", "-A", "trust"],
            "initdb",
        )
        self.start()
        self.admin_url = f"postgresql://scorelet@127.0.0.1:{self.port}/postgres"

    def _run(self, command: list[str], what: str) -> None:
        result = subprocess.run(
            self.prefix + self.as_user + command,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL {what} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        # Durability settings are the server's defaults except fsync, which costs the
        # tests minutes and proves nothing about Scorelet (the commit is what we await).
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        # Every process a test starts holds a pool of connections, and a SIGKILLed one holds
        # its slots until its backends notice: room enough for a whole session of them.
        options += " -c max_connections=1000"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-o",
                options,
                "-w",
                "start",
            ],
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], "stop"
        )

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


_cluster: Cluster | None = None


def cluster() -> Cluster:
    """This test process's server, started on first use."""
    global _cluster
    if _cluster is None:
        _cluster = Cluster()
        atexit.register(_cluster.remove)
    return _cluster


def remove_cluster() -> None:
    """Stop and delete this test process's server, if it started one (at the session's end,
    while the process is still sure to run; atexit is the fallback)."""
    global _cluster
    if _cluster is not None:
        _cluster.remove()
        _cluster = None


def admin_url() -> str:
    return os.environ.get("SCORELET_TEST_POSTGRES_URL") or cluster().admin_url


def new_database(admin: str | None = None) -> str:
    """The URL of a new, empty database (on this process's server, or `admin`'s)."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = admin or admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(admin)._replace(path="/" + name))


def database_for(directory: Path, url: str | None = None) -> str:
    """The database that belongs to a test's data directory: `url`, else a new one on
    first use."""
    marker = directory / URL_FILE
    if url is None and marker.exists():
        return marker.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True)
    url = url or new_database()
    marker.write_text(url + "\n")
    return url
