"""API keys on the read and admin endpoints: `Authorization: Bearer slk_...`."""

from __future__ import annotations

from starlette.requests import Request

from scorelet.api.headers import header
from scorelet.errors import Problem
from scorelet.store import ApiKey, Store
from scorelet.tokens import api_key_id, api_key_matches

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scorelet"'}


class KeyChecks:
    """Keys already checked against a stored hash, so a poll skips the SHA-256.

    Maps a presented key to the hash it matched; a revoked or replaced record
    no longer matches, so revocation works as before. Bounded: cleared when full.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._matched: dict[str, str] = {}

    def matches(self, key: str, stored_hash: str) -> bool:
        if self._matched.get(key) == stored_hash:
            return True
        if not api_key_matches(key, stored_hash):
            return False
        if len(self._matched) >= self._size:
            self._matched.clear()
        self._matched[key] = stored_hash
        return True


_CHECKS = KeyChecks()


def malformed(header_value: str) -> str:
    """What is wrong with an Authorization header that isn't `Bearer <key>`."""
    if api_key_id(header_value.strip()) is not None:
        return "put 'Bearer ' before the key: Authorization: Bearer slk_..."
    return "the Authorization header must be 'Bearer <key>', e.g. Authorization: Bearer slk_..."


async def authorize(request: Request, store: Store, scope: str) -> ApiKey:
    """The caller's key if it is valid, live and has `scope` (admin has every scope)."""
    raw = header(request.scope, b"authorization")
    header_value = raw.decode("latin-1") if raw else ""
    if not header_value:
        raise Problem(
            401,
            "missing_api_key",
            f"this endpoint needs an API key with the {scope!r} scope:"
            " send Authorization: Bearer <key> (create one with `scorelet key create`)",
            headers=_CHALLENGE,
        )
    scheme, _, key = header_value.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Problem(401, "bad_api_key", malformed(header_value), headers=_CHALLENGE)
    key_id = api_key_id(key)
    if key_id is None:
        raise Problem(
            401,
            "bad_api_key",
            "that is not a Scorelet API key: keys start with slk_ (create one with"
            " `scorelet key create`)",
            headers=_CHALLENGE,
        )
    record = store.api_key(key_id)
    if record is None:
        # A key made by `scorelet key create` a moment ago: look before refusing.
        await store.refresh_if_changed()
        record = store.api_key(key_id)
    if record is not None and record.revoked_at is not None:
        raise Problem(401, "bad_api_key", "this API key was revoked", headers=_CHALLENGE)
    if record is None or not _CHECKS.matches(key, record.hash):
        raise Problem(
            401,
            "bad_api_key",
            "this server knows no such API key: mistyped, or made on another data directory"
            " (`scorelet key list --data DIR` lists a server's keys)",
            headers=_CHALLENGE,
        )
    if record.scope not in (scope, "admin"):
        raise Problem(
            403,
            "insufficient_scope",
            f"this key has the {record.scope!r} scope; {scope!r} is needed",
        )
    return record
