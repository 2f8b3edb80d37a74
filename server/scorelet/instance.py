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
import errno
import fcntl
import json
import os
import socket
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


class ListenError(Exception):
    """The server's address can't be bound; the message names it and what to do."""


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


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything is printed: a busy port is one clear line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        detail = f"--host {host}: not an address this machine knows ({error.strerror})"
        raise ListenError(detail) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ListenError(bind_problem(error, host, port)) from None
    sock.set_inheritable(True)
    return sock


def bind_problem(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another Scorelet, or another program);"
            " stop it, or choose another port with --port N (or SCORELET_PORT)"
        )
    if error.errno == errno.EACCES:
        return (
            f"can't listen on port {port}: permission denied (ports below 1024 need"
            " privileges); choose another with --port N"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return f"can't listen on {host}: this machine has no such address; check --host"
    return f"can't listen on {host} port {port}: {error.strerror}"
