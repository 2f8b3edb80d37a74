"""Where Scorelet runs, found the way the `scorelet` command finds it. Standard library only.

In order: the --url given, SCORELET_PUBLIC_URL, else the address the server
running on the data directory (--data, SCORELET_DATA, ./scorelet-data)
wrote into DATA/serve.lock. That file counts only while its server holds
the lock on it, so a server that died leaves nothing that is believed.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


def scorelet_url(url: str | None, data: str | None) -> str:
    """The base URL, or SystemExit with one line saying what was looked at and what to do."""
    if url:
        return url.rstrip("/")
    public = os.environ.get("SCORELET_PUBLIC_URL")
    if public:
        return public.rstrip("/")
    folder = Path(data or os.environ.get("SCORELET_DATA") or "scorelet-data")
    running = running_url(folder)
    if running:
        return running
    raise SystemExit(
        f"no running Scorelet server found for {folder.resolve()}: start one with"
        " `scorelet serve`, or say where it is with --url http://HOST:PORT (or --data DIR)"
    )


def running_url(folder: Path) -> str | None:
    try:
        fd = os.open(folder / "serve.lock", os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # a server holds it: what it wrote is current
        with os.fdopen(os.dup(fd)) as file:
            try:
                url = json.loads(file.read() or "{}").get("url")
            except ValueError:
                return None
        return url if isinstance(url, str) else None
    finally:
        os.close(fd)
    return None
