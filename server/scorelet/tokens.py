"""Signed tokens and API-key hashing: pure functions, no I/O.

Three kinds of token, each signed with its own itsdangerous salt so one can
never pass for another:

- embed tokens (`e.` prefix) name a touchpoint and its token version. They
  never expire; bumping the version in the database revokes every token
  minted before, without touching the server secret.
- subject tokens (`s.` prefix) bind a touchpoint, a subject (conversation,
  order, ticket) and its context (agent, team ...), and carry their expiry.
- identity tokens (`i.` prefix) name a person and their traits (plan,
  signed_up_at ...), minted by the site's backend for a signed-in person, and
  carry their expiry. They name no touchpoint: one works on every widget of
  the page, and is never a rating token itself.

Several secrets may be configured: the first signs, all verify, so a secret
can be rotated without breaking tokens already handed out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

EMBED_PREFIX = "e."
SUBJECT_PREFIX = "s."
IDENTITY_PREFIX = "i."
API_KEY_PREFIX = "slk"
MAX_TOKEN_LENGTH = 4096
MAX_TTL_SECONDS = 366 * 86400
_DURATION = re.compile(r"^(\d{1,9})([smhdw]?)$")
# Durations parse_duration accepts, as a JSON Schema pattern (each unit up to a year's worth).
DURATION_PATTERN = (
    "^(?:[1-9][0-9]{0,6}s?|[1-9][0-9]{0,4}m|[1-9][0-9]{0,2}h|[1-9][0-9]?d"
    "|[1-9]w|[1-4][0-9]w|5[0-2]w)$"
)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class TokenError(ValueError):
    """A token that can't be used; `code` is `bad_token` or `token_expired`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class EmbedClaims:
    touchpoint: str
    version: int


@dataclass(frozen=True, slots=True)
class SubjectClaims:
    touchpoint: str
    subject: str
    expires_at: int
    context: Mapping[str, str] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class IdentityClaims:
    person: str
    expires_at: int
    traits: Mapping[str, str] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


Claims = EmbedClaims | SubjectClaims | IdentityClaims


class Signer:
    """Mints and verifies tokens with an ordered list of secrets (first signs)."""

    def __init__(self, secrets: Sequence[str], cache_size: int = 4096) -> None:
        if not secrets or not all(secrets):
            raise ValueError("at least one non-empty secret is required")
        keys = list(reversed(secrets))  # itsdangerous signs with the last key
        self._embed = URLSafeSerializer(keys, salt="scorelet.embed")
        self._subject = URLSafeSerializer(keys, salt="scorelet.subject")
        self._identity = URLSafeSerializer(keys, salt="scorelet.identity")
        # Verification is an HMAC and a JSON parse; the same few tokens arrive
        # over and over, so remember the good ones. Failures are not cached.
        self.verify = lru_cache(maxsize=cache_size)(self._verify)

    def mint_embed(self, touchpoint: str, version: int) -> str:
        return EMBED_PREFIX + self._embed.dumps([touchpoint, version])

    def mint_subject(
        self, touchpoint: str, subject: str, context: Mapping[str, str], expires_at: int
    ) -> str:
        payload = {"t": touchpoint, "s": subject, "c": dict(context), "x": expires_at}
        return SUBJECT_PREFIX + self._subject.dumps(payload)

    def mint_identity(self, person: str, traits: Mapping[str, str], expires_at: int) -> str:
        payload = {"p": person, "t": dict(traits), "x": expires_at}
        return IDENTITY_PREFIX + self._identity.dumps(payload)

    def _verify(self, token: str) -> Claims:
        """Check the signature and shape; expiry is the caller's to check against its clock."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("bad_token", "token is too long")
        if not token.isascii():  # itsdangerous would fail to encode a lone surrogate
            raise TokenError("bad_token", "token is not a Scorelet token")
        try:
            if token.startswith(EMBED_PREFIX):
                return _embed_claims(self._embed.loads(token[2:]))
            if token.startswith(SUBJECT_PREFIX):
                return _subject_claims(self._subject.loads(token[2:]))
            if token.startswith(IDENTITY_PREFIX):
                return _identity_claims(self._identity.loads(token[2:]))
        except BadSignature:
            raise TokenError("bad_token", "token signature is invalid") from None
        raise TokenError("bad_token", "token is not a Scorelet token")


def _embed_claims(payload: Any) -> EmbedClaims:
    match payload:
        case [str(slug), int(version)]:
            return EmbedClaims(slug, version)
    raise TokenError("bad_token", "token payload is malformed")


def _subject_claims(payload: Any) -> SubjectClaims:
    match payload:
        case {"t": str(slug), "s": str(subject), "c": dict(context), "x": int(expires_at)}:
            if all(isinstance(v, str) for v in context.values()):
                return SubjectClaims(slug, subject, expires_at, MappingProxyType(context))
    raise TokenError("bad_token", "token payload is malformed")


def _identity_claims(payload: Any) -> IdentityClaims:
    match payload:
        case {"p": str(person), "t": dict(traits), "x": int(expires_at)}:
            if all(isinstance(v, str) for v in traits.values()):
                return IdentityClaims(person, expires_at, MappingProxyType(traits))
    raise TokenError("bad_token", "token payload is malformed")


def kind_of(claims: Claims) -> str:
    """What a token is, in words for a refusal that names the wrong kind."""
    if isinstance(claims, EmbedClaims):
        return "an embed token (e.…)"
    if isinstance(claims, SubjectClaims):
        return "a subject token (s.…)"
    return "an identity token (i.…)"


def parse_duration(text: str) -> int:
    """Seconds in a duration such as `90`, `30m`, `12h`, `7d` or `2w` (at most a year)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; use a number with s, m, h, d or w")
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise ValueError("a duration must be more than 0 seconds and at most 366 days")
    return seconds


def new_api_key() -> tuple[str, str]:
    """A fresh API key as (key id, full key); the key id is public, the rest is not."""
    key_id = random.token_hex(4)
    return key_id, f"{API_KEY_PREFIX}_{key_id}_{random.token_urlsafe(24)}"


def api_key_id(key: str) -> str | None:
    """The public id inside an API key, or None if it is not shaped like one."""
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == API_KEY_PREFIX and len(parts[1]) == 8:
        return parts[1]
    return None


def hash_api_key(key: str) -> str:
    """Keys carry 192 random bits, so a plain SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)
