"""Which secrets sign tokens: SCORELET_SECRET, else the database's, else the data directory's.

With PostgreSQL the secrets live in the database (made by the first process
that needs one), so every Scorelet process and `scorelet` command on that
database signs and verifies alike, with nothing to copy between machines.
With SQLite they are the `secret` file that `scorelet init` or the first
`scorelet serve` writes into the data directory. Either way the first one
signs and every one verifies, so a copy can bring its source's secrets
along and every token already embedded in a page keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from scorelet.config import SECRET_FILE, Settings, SettingsError, resolve_secrets, write_secrets


async def signing_settings_async(settings: Settings) -> Settings:
    """Settings with the secrets that sign this installation's tokens."""
    if settings.secrets or not settings.database_url:
        return resolve_secrets(settings)
    from scorelet.store.postgres.backend import database_secrets

    return replace(settings, secrets=await database_secrets(settings.database_url))


def signing_settings(settings: Settings) -> Settings:
    """`signing_settings_async` for code outside an event loop (the CLI, `mint_token`)."""
    if settings.secrets or not settings.database_url:
        return resolve_secrets(settings)
    return asyncio.run(signing_settings_async(settings))


async def carry_secrets(source: Settings, target: Settings) -> bool:
    """Make the target sign with the source's secrets and still accept its own; False
    when SCORELET_SECRET signs for both, so there is nothing to carry."""
    if source.secrets:
        return False
    signing = (await signing_settings_async(source)).secrets
    theirs: tuple[str, ...] = ()
    if target.database_url:
        from scorelet.store.postgres.backend import database_secrets, replace_database_secrets

        theirs = await database_secrets(target.database_url)
        await replace_database_secrets(target.database_url, _merged(signing, theirs))
    else:
        with contextlib.suppress(SettingsError):  # no secret file yet
            theirs = resolve_secrets(target).secrets
        write_secrets(target.data_dir / SECRET_FILE, _merged(signing, theirs))
    return True


def _merged(signing: tuple[str, ...], kept: tuple[str, ...]) -> tuple[str, ...]:
    return signing + tuple(secret for secret in kept if secret not in signing)
