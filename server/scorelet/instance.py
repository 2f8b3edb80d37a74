"""The one server of a data directory: its lock, and the address it serves.

`scorelet serve` holds an exclusive `flock` on `DATA/serve.lock` for its
whole life, so a second server on the same data directory (which would fight
the first for the database and never see its in-memory state) is refused at
once. Once its socket is bound it writes the URL it serves into the same
file, so the CLI and the examples print tags and links that point at the
server that is really running, not at a default port. A file left behind by
a server that died is harmless: nobody holds its lock, so nobody trusts it.

The file's format is part of the interface (the examples read it with the
standard library): JSON `{"url": "http://127.0.0.1:8000", "pid": 1234}`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

LOCK_FILE = "serve.lock"


class AlreadyServing(Exception):
    """Another process serves this data directory; `url` is its address if known."""

    def __init__(self, data_dir: Path, url: str | None, pid: int | None) -> None:
        self.data_dir, self.url, self.pid = data_dir, url, pid
        where = f" at {url}" if url else ""
        who = f" (process {pid})" if pid else ""
        super().__init__(
            f"a Scorelet server{who} is already serving {data_dir.resolve()}{where}; stop it"
            " first, or give this one its own data directory with --data DIR"
        )


class Claim:
    """The lock of a data directory, held until `release` (or the process ends)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            record = _record(self.path)
            url, pid = record.get("url"), record.get("pid")
            raise AlreadyServing(
                data_dir,
                url if isinstance(url, str) else None,
                pid if isinstance(pid, int) else None,
            ) from None
        self._fd: int | None = fd
        self.publish(None)

    def publish(self, url: str | None) -> None:
        """Record the address this server answers at (None: not bound yet)."""
        assert self._fd is not None
        record = {"url": url, "pid": os.getpid()} if url else {"pid": os.getpid()}
        data = json.dumps(record).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def _record(path: Path) -> dict[str, object]:
    try:
        record = json.loads(path.read_bytes() or b"{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def running_url(data_dir: Path) -> str | None:
    """The URL of the server running on `data_dir`, if one is (and has bound its socket)."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # held: a server is running
        url = _record(path).get("url")
        return url if isinstance(url, str) else None
    finally:
        os.close(fd)  # also releases the shared lock, if we got it
    return None  # nobody holds it: what the file says is stale
