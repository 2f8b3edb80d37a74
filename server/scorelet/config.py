"""Settings from the environment (SCORELET_*) and command-line flags.

Read once at start with starlette's `Config`, validated, and passed in
explicitly: nothing here is global. Flags given to the CLI override the
environment.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from starlette.config import Config

DEFAULT_PORT = 8000
DATABASE_FILE = "scorelet.sqlite3"
SECRET_FILE = "secret"
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """A setting that can't be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("scorelet-data")
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    secrets: tuple[str, ...] = ()
    public_url: str | None = None
    synchronous: str = "full"
    max_body: int = 16 * 1024
    access_log: bool = False

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def base_url(self) -> str:
        """Where browsers reach this server: SCORELET_PUBLIC_URL, or the bound address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced, skipping those left as None."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    config = Config(environ=os.environ if environ is None else environ)
    try:
        port = config("SCORELET_PORT", cast=int, default=DEFAULT_PORT)
        max_body = config("SCORELET_MAX_BODY", cast=int, default=16 * 1024)
        access_log = config("SCORELET_ACCESS_LOG", cast=bool, default=False)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    raw_secrets = config("SCORELET_SECRET", default="")
    settings = Settings(
        data_dir=Path(config("SCORELET_DATA", default="scorelet-data")),
        host=config("SCORELET_HOST", default="127.0.0.1"),
        port=port,
        secrets=tuple(part.strip() for part in raw_secrets.split(",") if part.strip()),
        public_url=config("SCORELET_PUBLIC_URL", default=None),
        synchronous=config("SCORELET_SYNC", default="full").lower(),
        max_body=max_body,
        access_log=access_log,
    )
    return validate(settings)


def validate(settings: Settings) -> Settings:
    if not 0 < settings.port < 65536:
        raise SettingsError(f"port {settings.port} is not between 1 and 65535")
    if settings.synchronous not in ("full", "normal"):
        raise SettingsError("SCORELET_SYNC must be 'full' (default) or 'normal'")
    if not 1024 <= settings.max_body <= 1024 * 1024:
        raise SettingsError("SCORELET_MAX_BODY must be between 1024 and 1048576 bytes")
    for secret in settings.secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"every SCORELET_SECRET entry needs at least {MIN_SECRET_LENGTH} characters"
            )
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError("SCORELET_PUBLIC_URL must start with http:// or https://")
    return settings


def resolve_secrets(settings: Settings) -> Settings:
    """Settings with secrets: configured ones, else the data directory's (made on first use).

    The generated secret is written with 0600 permissions so tokens survive
    restarts and nobody else on the machine can read it.
    """
    if settings.secrets:
        return settings
    path = settings.data_dir / SECRET_FILE
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise SettingsError(f"{path} is empty; delete it to generate a new secret")
    return validate(replace(settings, secrets=tuple(lines)))
