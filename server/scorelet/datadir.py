"""The data directory: checked before use, created only by `serve` and `init`.

Every command names the directory it works on, so a mistyped path or a
shell in the wrong folder fails with one line naming what was looked at,
instead of a new empty database that the running server never sees. The
checks run before anything is opened, so a folder that can't be written, a
file in the folder's place or a read-only database is reported in words at
start, not as a traceback (or a server that looks healthy and then answers
every rating with 503).
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

from scorelet.config import DATABASE_FILE, Settings, create_secret
from scorelet.demo import DEMO_TOUCHPOINTS
from scorelet.signing import signing_settings_async
from scorelet.store import Store, Unavailable
from scorelet.store.sqlite.backend import probe_writable
from scorelet.touchpoints import new_touchpoint_fields

POINT_ELSEWHERE = "or choose another folder with --data DIR (or SCORELET_DATA)"


class DataDirError(Exception):
    """A data directory that can't be used; the message says what to do, in one line."""


def describe(path: Path, source: str) -> str:
    """Where a data directory came from, for messages: the flag, the variable, the default."""
    if source == "default":
        return f"{path.resolve()} (the default ./scorelet-data, from {Path.cwd()})"
    return f"{path.resolve()} (from {source})"


def require(path: Path, source: str) -> None:
    """Refuse a missing data directory: every command but `serve` and `init` needs one."""
    if not path.exists():
        raise DataDirError(
            f"no Scorelet data directory at {describe(path, source)}. Point at the server's"
            " with --data DIR or SCORELET_DATA=DIR, or create one with `scorelet init`"
        )
    _check_folder(path)
    if not (path / DATABASE_FILE).is_file():
        raise DataDirError(
            f"{describe(path, source)} holds no Scorelet database ({DATABASE_FILE}). Point at"
            " the server's data directory with --data DIR, or create one here with"
            " `scorelet init`"
        )
    check_writable(path)


def ensure(path: Path) -> bool:
    """The data directory, created (mode 0700) if missing, checked writable; True if created."""
    created = not path.exists()
    if created:
        try:
            path.mkdir(mode=0o700, parents=True)
        except PermissionError:
            raise DataDirError(
                f"can't create the data folder {path.resolve()}: permission denied."
                f" Create it yourself, {POINT_ELSEWHERE}"
            ) from None
        except (FileExistsError, NotADirectoryError):
            raise DataDirError(
                f"can't create the data folder {path.resolve()}: part of that path is a file."
                f" Move the file away, {POINT_ELSEWHERE}"
            ) from None
        except OSError as error:
            raise DataDirError(f"can't create {path.resolve()}: {error.strerror}") from None
    _check_folder(path)
    check_writable(path)
    return created


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise DataDirError(
            f"the data folder {path.resolve()} is a file, not a folder."
            f" Move the file away, {POINT_ELSEWHERE}"
        )


def check_writable(path: Path) -> None:
    """Scorelet writes its database, its write-ahead log and its secret here: try it."""
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".scorelet-check-"):
            pass
    except OSError as error:
        reason = "read-only file system" if error.errno == errno.EROFS else error.strerror
        raise DataDirError(
            f"can't write in the data folder {path.resolve()} ({reason}): Scorelet keeps its"
            f" database there. Make it writable for this user (chmod u+w), {POINT_ELSEWHERE}"
        ) from None
    database = path / DATABASE_FILE
    if database.exists():
        _probe_database(database)


def _probe_database(database: Path) -> None:
    """A read-only database fails here, in words, instead of at the first rating."""
    try:
        probe_writable(database)
    except Unavailable as error:
        raise DataDirError(str(error)) from None


async def initialize(settings: Settings, demos: bool = True) -> bool:
    """What a first start does: database, migrations, secret, demo touchpoints; True if new.

    The demo touchpoints are added only to a new database, so removing them
    (or adding your own before the first start) is never undone.
    """
    if not settings.secrets and settings.database_url is None:
        create_secret(settings.data_dir)
    store = await Store.open(settings.storage, settings.synchronous)
    try:
        new = store.backend.created
        if settings.database_url and not settings.secrets:
            await signing_settings_async(settings)  # the database's secret, made once
        if new and demos and not store.touchpoints():
            for fields in DEMO_TOUCHPOINTS:
                await store.create_touchpoint(new_touchpoint_fields(fields))
    finally:
        await store.close()
    return new
