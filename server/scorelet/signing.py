"""Which secrets sign tokens: SCORELET_SECRET, else the database's, else the data directory's.

With PostgreSQL the secret lives in the database (made by the first process
that needs it), so every Scorelet process and `scorelet` command on that
database signs and verifies alike, with nothing to copy between machines.
With SQLite it is the `secret` file that `scorelet init` or the first
`scorelet serve` writes into the data directory.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from scorelet.config import Settings, resolve_secrets


async def signing_settings_async(settings: Settings) -> Settings:
    """Settings with the secrets that sign this installation's tokens."""
    if settings.secrets or not settings.database_url:
        return resolve_secrets(settings)
    from scorelet.store.postgres.backend import database_secret

    return replace(settings, secrets=(await database_secret(settings.database_url),))


def signing_settings(settings: Settings) -> Settings:
    """`signing_settings_async` for code outside an event loop (the CLI, `mint_token`)."""
    if settings.secrets or not settings.database_url:
        return resolve_secrets(settings)
    return asyncio.run(signing_settings_async(settings))
