"""Settings from the environment (SCORELET_*) and command-line flags.

Read once at start with starlette's `Config`, validated, and passed in
explicitly: nothing here is global. Flags given to the CLI override the
environment.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.config import Config

from scorelet.brand import (
    MAX_NAME,
    NO_BRAND,
    Brand,
    BrandError,
    check_accent,
    check_logo,
)
from scorelet.routing.retries import MAX_TIMEOUT, SCHEDULE, parse_schedule
from scorelet.tokens import parse_duration

DEFAULT_PORT = 8000
DATABASE_FILE = "scorelet.sqlite3"
SECRET_FILE = "secret"
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """A setting that can't be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("scorelet-data")
    # PostgreSQL instead of the SQLite file in the data directory (several processes).
    database_url: str | None = None
    database_listen_url: str | None = None  # LISTEN's own route, past a transaction pooler
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    secrets: tuple[str, ...] = ()
    public_url: str | None = None
    synchronous: str = "full"
    max_body: int = 16 * 1024
    access_log: bool = False
    metrics_token: str | None = None
    # Abuse controls (issue 7); see "Limits" in docs/operations.md.
    rate_limit: bool = True
    ip_rate: float = 20.0
    ip_burst: int = 200
    touchpoint_rate: float = 1000.0
    touchpoint_burst: int = 5000
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    body_timeout: float = 10.0
    frame_ancestors: str = "'none'"
    # The hosted page's branding for the whole install; touchpoints may override it.
    brand: Brand = NO_BRAND
    # Deliveries (issue 15); see docs/routing.md.
    allow_private_destinations: bool = False
    retry_schedule: tuple[float, ...] = SCHEDULE
    delivery_lease: float = 30.0
    delivery_timeout: float = MAX_TIMEOUT
    # How long a dashboard sign-in lasts (SCORELET_SESSION_TTL, e.g. 12h or 7d).
    session_ttl: float = 12 * 3600

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def storage(self) -> Path | str:
        """Where ratings are kept: the PostgreSQL URL, else the SQLite file."""
        return self.database_url or self.database

    @property
    def storage_name(self) -> str:
        """The storage for messages, with any password left out."""
        if self.database_url is None:
            return str(self.database.resolve())
        return redact_url(self.database_url)

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
        limits = _limit_settings(config)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    raw_secrets = config("SCORELET_SECRET", default="")
    settings = Settings(
        data_dir=Path(config("SCORELET_DATA", default="scorelet-data")),
        database_url=config("SCORELET_DATABASE_URL", default="").strip() or None,
        database_listen_url=config("SCORELET_DATABASE_LISTEN_URL", default="").strip() or None,
        host=config("SCORELET_HOST", default="127.0.0.1"),
        port=port,
        secrets=tuple(part.strip() for part in raw_secrets.split(",") if part.strip()),
        public_url=config("SCORELET_PUBLIC_URL", default=None),
        synchronous=config("SCORELET_SYNC", default="full").lower(),
        max_body=max_body,
        access_log=access_log,
        metrics_token=config("SCORELET_METRICS_TOKEN", default=None) or None,
        brand=_brand(config),
        session_ttl=_session_ttl(config),
        **limits,
        **_delivery_settings(config),
    )
    return validate(settings)


def _delivery_settings(config: Config) -> dict[str, Any]:
    """How deliveries are sent; the schedule, lease and timeout are for tests and tuning."""
    defaults = Settings()
    try:
        schedule = parse_schedule(config("SCORELET_RETRY_SCHEDULE", default=""))
    except ValueError as error:
        if config("SCORELET_RETRY_SCHEDULE", default=""):
            raise SettingsError(f"SCORELET_RETRY_SCHEDULE {error}") from None
        schedule = defaults.retry_schedule
    try:
        lease = config("SCORELET_DELIVERY_LEASE", cast=float, default=defaults.delivery_lease)
        timeout = config("SCORELET_DELIVERY_TIMEOUT", cast=float, default=MAX_TIMEOUT)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if not 1 <= lease <= 3600:
        raise SettingsError("SCORELET_DELIVERY_LEASE must be 1-3600 seconds")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise SettingsError(
            f"SCORELET_DELIVERY_TIMEOUT must be above 0 and at most {MAX_TIMEOUT:g} s"
        )
    allow = config("SCORELET_ALLOW_PRIVATE_DESTINATIONS", default="0").lower()
    return {
        "allow_private_destinations": allow not in _OFF,
        "retry_schedule": schedule,
        "delivery_lease": lease,
        "delivery_timeout": timeout,
    }


def _session_ttl(config: Config) -> float:
    text = config("SCORELET_SESSION_TTL", default="12h")
    try:
        return float(parse_duration(text))
    except ValueError as error:
        raise SettingsError(f"SCORELET_SESSION_TTL: {error}") from None


def _brand(config: Config) -> Brand:
    """SCORELET_BRAND_NAME, _LOGO (an image URL) and _ACCENT (#rrggbb), checked at start."""
    name = config("SCORELET_BRAND_NAME", default="").strip() or None
    logo = config("SCORELET_BRAND_LOGO", default="").strip() or None
    accent = config("SCORELET_BRAND_ACCENT", default="").strip() or None
    try:
        logo = check_logo(logo, "SCORELET_BRAND_LOGO") if logo else None
        accent = check_accent(accent, "SCORELET_BRAND_ACCENT") if accent else None
    except BrandError as error:
        raise SettingsError(str(error)) from None
    if name and len(name) > MAX_NAME:
        raise SettingsError(f"SCORELET_BRAND_NAME is longer than {MAX_NAME} characters")
    return Brand(name, logo, accent)


def _limit_settings(config: Config) -> dict[str, Any]:
    defaults = Settings()
    proxies = config("SCORELET_TRUSTED_PROXIES", default=",".join(defaults.trusted_proxies))
    return {
        "rate_limit": config("SCORELET_RATE_LIMIT", default="on").lower() not in _OFF,
        "ip_rate": config("SCORELET_IP_RATE", cast=float, default=defaults.ip_rate),
        "ip_burst": config("SCORELET_IP_BURST", cast=int, default=defaults.ip_burst),
        "touchpoint_rate": config(
            "SCORELET_TOUCHPOINT_RATE", cast=float, default=defaults.touchpoint_rate
        ),
        "touchpoint_burst": config(
            "SCORELET_TOUCHPOINT_BURST", cast=int, default=defaults.touchpoint_burst
        ),
        "trusted_proxies": tuple(p.strip() for p in proxies.split(",") if p.strip()),
        "body_timeout": config("SCORELET_BODY_TIMEOUT", cast=float, default=defaults.body_timeout),
        "frame_ancestors": config("SCORELET_FRAME_ANCESTORS", default=defaults.frame_ancestors),
    }


_OFF = frozenset({"off", "false", "0", "no"})


def _validate_limits(settings: Settings) -> None:
    for name in ("ip_rate", "touchpoint_rate", "body_timeout"):
        if not 0 < getattr(settings, name) <= 1e6:
            raise SettingsError(f"SCORELET_{name.upper()} must be a positive number")
    for name in ("ip_burst", "touchpoint_burst"):
        if not 1 <= getattr(settings, name) <= 10**7:
            raise SettingsError(f"SCORELET_{name.upper()} must be a whole number from 1")
    for cidr in settings.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise SettingsError(
                f"SCORELET_TRUSTED_PROXIES: {cidr!r} is not an address or CIDR like 10.0.0.0/8"
            ) from None
    if not settings.frame_ancestors.strip() or any(c in settings.frame_ancestors for c in ";,\r\n"):
        raise SettingsError(
            "SCORELET_FRAME_ANCESTORS must be CSP sources such as 'none', 'self'"
            " or https://app.example.com"
        )


def validate(settings: Settings) -> Settings:
    if not 0 <= settings.port < 65536:
        raise SettingsError(f"port {settings.port} is not between 0 (any free port) and 65535")
    if settings.synchronous not in ("full", "normal"):
        raise SettingsError("SCORELET_SYNC must be 'full' (default) or 'normal'")
    if not 1024 <= settings.max_body <= 1024 * 1024:
        raise SettingsError("SCORELET_MAX_BODY must be between 1024 and 1048576 bytes")
    for secret in settings.secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"every SCORELET_SECRET entry needs at least {MIN_SECRET_LENGTH} characters"
            )
    check_database_url("SCORELET_DATABASE_URL", settings.database_url)
    check_database_url("SCORELET_DATABASE_LISTEN_URL", settings.database_listen_url)
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError("SCORELET_PUBLIC_URL must start with http:// or https://")
    _validate_limits(settings)
    return settings


def resolve_secrets(settings: Settings) -> Settings:
    """Settings with secrets: configured ones, else the data directory's `secret` file.

    Only `scorelet init` and `scorelet serve` make that file (`create_secret`),
    so a mistyped data directory fails here, naming the path, instead of
    quietly signing with a new secret nobody else knows.
    """
    if settings.secrets:
        return settings
    if settings.database_url:
        raise SettingsError(
            "no secret yet: with SCORELET_DATABASE_URL the secret lives in the database"
            " (see store/postgres), or set SCORELET_SECRET"
        )
    path = settings.data_dir / SECRET_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SettingsError(
            f"no secret at {path.resolve()}: is {settings.data_dir} the server's data directory?"
            " Point at it with --data DIR or SCORELET_DATA, create one with `scorelet init`,"
            " or set SCORELET_SECRET"
        ) from None
    except OSError as error:
        raise SettingsError(f"can't read {path.resolve()}: {error.strerror}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise SettingsError(f"{path} is empty; delete it to generate a new secret")
    return validate(replace(settings, secrets=tuple(lines)))


def create_secret(data_dir: Path) -> bool:
    """Write a random secret to `data_dir/secret` (mode 0600) unless one exists; True if made.

    The file keeps tokens valid across restarts, and nobody else on the
    machine can read it.
    """
    try:
        fd = os.open(data_dir / SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    return True


def write_secrets(path: Path, secrets_: tuple[str, ...]) -> None:
    """Replace the `secret` file (mode 0600) with these secrets, one per line, the signing
    one first; written beside it and renamed, so a crash leaves the old file or the new."""
    staging = path.with_name(path.name + ".new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("".join(secret + "\n" for secret in secrets_))
        file.flush()
        os.fsync(file.fileno())
    os.replace(staging, path)


def check_database_url(name: str, url: str | None) -> None:
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise SettingsError(
            f"{name} must be a PostgreSQL URL like postgresql://user:pass@host:5432/db"
            " (leave it unset for the SQLite file in the data directory)"
        )


def redact_url(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
