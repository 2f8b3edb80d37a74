"""Minting subject tokens: for the CLI, the HTTP API and integrators' Python code."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scorelet.config import load_settings
from scorelet.errors import invalid
from scorelet.signing import signing_settings
from scorelet.tokens import Signer, parse_duration
from scorelet.validation import check_context, check_slug, check_subject

DEFAULT_TTL = "7d"


@dataclass(frozen=True, slots=True)
class MintedToken:
    token: str
    expires_at: int


def mint_subject_token(
    signer: Signer,
    touchpoint: str,
    subject: str,
    context: Mapping[str, str] | None = None,
    ttl: str | int = DEFAULT_TTL,
    now: float | None = None,
) -> MintedToken:
    """A signed token binding touchpoint, subject and context, valid for `ttl`."""
    check_slug(touchpoint, "touchpoint")
    check_subject(subject)
    checked = check_context(dict(context or {}))
    try:
        seconds = parse_duration(str(ttl))
    except ValueError as error:
        raise invalid("ttl", str(error)) from None
    expires_at = int(now if now is not None else time.time()) + seconds
    return MintedToken(signer.mint_subject(touchpoint, subject, checked, expires_at), expires_at)


def mint_token(
    touchpoint: str,
    subject: str,
    *,
    context: Mapping[str, str] | None = None,
    ttl: str | int = DEFAULT_TTL,
    secret: str | Sequence[str] | None = None,
    data_dir: str | Path | None = None,
) -> str:
    """A subject token for `touchpoint` and `subject`, e.g. a support conversation.

    The secret is `secret`, else SCORELET_SECRET, else the one Scorelet keeps
    in its data directory (`data_dir`, else SCORELET_DATA). Context such as
    {"agent": "alice"} is signed into the token: the browser can't change it.

        >>> token = mint_token("support-chat", "conv_8812", context={"agent": "alice"})
    """
    if secret is None:
        settings = load_settings()
        if data_dir is not None:
            settings = settings.with_overrides(data_dir=Path(data_dir))
        secrets: Sequence[str] = signing_settings(settings).secrets
    else:
        secrets = [secret] if isinstance(secret, str) else secret
    return mint_subject_token(Signer(secrets), touchpoint, subject, context, ttl).token
