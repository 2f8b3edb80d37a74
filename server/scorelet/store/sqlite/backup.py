"""`scorelet backup PATH`: a consistent copy of a data directory, safe while serving.

The database is copied with SQLite's online backup API on a connection of
its own, in one step, so the copy is one committed snapshot: writers in WAL
mode carry on meanwhile and nothing half-written is copied. The copy is
written beside its destination and renamed into place only once complete
and checked, so an interrupted backup never leaves a file that looks whole.
The secret file comes along, so tokens keep working when the copy is served.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from scorelet.config import DATABASE_FILE, SECRET_FILE


class BackupError(Exception):
    """A backup that can't be made; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    target: Path
    responses: int
    size: int


def backup(data_dir: Path, target: Path, force: bool = False) -> BackupResult:
    """Copy `data_dir`'s database (and secret) into the new data directory `target`."""
    source = data_dir / DATABASE_FILE
    if not source.is_file():
        raise BackupError(f"no Scorelet database at {source}; is --data right?")
    if target.resolve() == data_dir.resolve():
        raise BackupError("the backup must go somewhere other than the data directory itself")
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise BackupError(f"{target} is not empty; add --force to overwrite the backup in it")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target / (DATABASE_FILE + ".partial")
    partial.unlink(missing_ok=True)
    try:
        responses = _copy(source, partial)
        for suffix in ("-wal", "-shm", "-journal"):  # stale files of an older copy
            (target / (DATABASE_FILE + suffix)).unlink(missing_ok=True)
        os.replace(partial, target / DATABASE_FILE)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup failed: {error}") from None
    secret = data_dir / SECRET_FILE
    if secret.is_file():
        shutil.copyfile(secret, target / SECRET_FILE)
        os.chmod(target / SECRET_FILE, 0o600)
    _fsync_dir(target)
    return BackupResult(target, responses, (target / DATABASE_FILE).stat().st_size)


def _copy(source: Path, destination: Path) -> int:
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        dst = sqlite3.connect(destination)
        try:
            src.backup(dst)  # one step: a single read snapshot of the source
            dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained file
            if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("the copy failed its integrity check; the source may be damaged")
            responses: int = dst.execute("SELECT count(*) FROM responses").fetchone()[0]
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()
    with open(destination, "rb") as file:
        os.fsync(file.fileno())
    return responses


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
