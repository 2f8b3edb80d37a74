"""Minting subject and identity tokens: for the CLI, the HTTP API and integrators' Python code."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scorelet.config import load_settings
from scorelet.errors import invalid
from scorelet.people import check_person, check_traits
from scorelet.signing import signing_settings
from scorelet.tokens import Signer, parse_duration
from scorelet.validation import check_context, check_slug, check_subject

DEFAULT_TTL = "7d"
# An identity token is minted per page view or session: a day outlives a working day's tab.
DEFAULT_IDENTITY_TTL = "1d"


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
    expires_at = _expiry(ttl, now)
    return MintedToken(signer.mint_subject(touchpoint, subject, checked, expires_at), expires_at)


def mint_identity_token(
    signer: Signer,
    person: str,
    traits: Mapping[str, str] | None = None,
    ttl: str | int = DEFAULT_IDENTITY_TTL,
    now: float | None = None,
) -> MintedToken:
    """A signed token naming a signed-in person and their traits, valid for `ttl`."""
    check_person(person)
    checked = check_traits(dict(traits or {}))
    expires_at = _expiry(ttl, now)
    return MintedToken(signer.mint_identity(person, checked, expires_at), expires_at)


def _expiry(ttl: str | int, now: float | None) -> int:
    try:
        seconds = parse_duration(str(ttl))
    except ValueError as error:
        raise invalid("ttl", str(error)) from None
    return int(now if now is not None else time.time()) + seconds


def _secrets(secret: str | Sequence[str] | None, data_dir: str | Path | None) -> Sequence[str]:
    if secret is not None:
        return [secret] if isinstance(secret, str) else secret
    settings = load_settings()
    if data_dir is not None:
        settings = settings.with_overrides(data_dir=Path(data_dir))
    return signing_settings(settings).secrets


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
    signer = Signer(_secrets(secret, data_dir))
    return mint_subject_token(signer, touchpoint, subject, context, ttl).token


def mint_identity(
    person_id: str,
    traits: Mapping[str, str] | None = None,
    ttl: str | int = DEFAULT_IDENTITY_TTL,
    *,
    secret: str | Sequence[str] | None = None,
    data_dir: str | Path | None = None,
) -> str:
    """An identity token for a signed-in person, for the widget's `data-identity`.

    Mint it in your backend when you render a page for that person (never in
    the browser: whoever holds it speaks for the person until it expires).
    Traits such as {"plan": "pro", "signed_up_at": "2026-01-31"} are signed
    into it; the person's ratings carry them as context. The secret is found
    as for `mint_token`.

        >>> token = mint_identity("user_1234", {"signed_up_at": "2026-01-31"}, ttl="1h")
    """
    signer = Signer(_secrets(secret, data_dir))
    return mint_identity_token(signer, person_id, traits, ttl).token
