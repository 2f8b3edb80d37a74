"""Dashboard sessions and CSRF tokens: signed values, no server-side state. No I/O.

A session is a cookie holding, signed with the server secret (its own salt),
the account's id, the account's session version, a random session id and
when it expires. The server honours it only while the version still equals
the account's (signing out, a password reset or removing the account bumps
it, ending every session of that account at once) and until it expires.
Signing in always issues a new session id, so a cookie planted before
sign-in is worth nothing after it (no session fixation).

CSRF: every form and state-changing request carries a token derived from
the session id with an HMAC, so a page elsewhere can't produce it. Before
sign-in there is no session, so the sign-in and set-password forms use a
random `form` cookie the same way. Tokens are masked with fresh random bytes
each time a page is made, so a compressed page never repeats the same secret
bytes (BREACH).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

SESSION_COOKIE = "scorelet_session"
FORM_COOKIE = "scorelet_form"
COOKIE_PATH = "/dashboard"
_MASK = 16


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    version: int
    sid: str
    expires_at: int
    tz: str = "UTC"  # the browser's time zone, told at sign-in, for day and week buckets


class Sessions:
    def __init__(self, secrets_: Sequence[str]) -> None:
        keys = list(reversed(secrets_))  # itsdangerous signs with the last key
        self._cookies = URLSafeSerializer(keys, salt="scorelet.session")
        self._csrf_key = hashlib.sha256(("scorelet.csrf:" + secrets_[0]).encode()).digest()

    def new(self, user_id: str, version: int, now: float, ttl: float, tz: str) -> Session:
        return Session(user_id, version, secrets.token_urlsafe(18), int(now + ttl), tz)

    def encode(self, session: Session) -> str:
        payload = [session.user_id, session.version, session.sid, session.expires_at, session.tz]
        return str(self._cookies.dumps(payload))

    def decode(self, cookie: str, now: float) -> Session | None:
        """The session a cookie holds, if it is ours and has not expired."""
        if len(cookie) > 1024:
            return None
        try:
            user_id, version, sid, expires_at, tz = self._cookies.loads(cookie)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(expires_at, int) or now >= expires_at:
            return None
        return Session(str(user_id), int(version), str(sid), expires_at, str(tz))

    # -- CSRF ---------------------------------------------------------------------------------

    def _raw(self, binding: str) -> bytes:
        return hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).digest()

    def csrf_token(self, binding: str) -> str:
        """A token for forms of the session (or form cookie) `binding`, masked afresh."""
        raw = self._raw(binding)
        mask = secrets.token_bytes(_MASK)
        masked = bytes(b ^ mask[i % _MASK] for i, b in enumerate(raw))
        return base64.urlsafe_b64encode(mask + masked).decode().rstrip("=")

    def csrf_ok(self, binding: str, token: str) -> bool:
        try:
            data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            return False
        if len(data) != _MASK + 32:
            return False
        mask, masked = data[:_MASK], data[_MASK:]
        raw = bytes(b ^ mask[i % _MASK] for i, b in enumerate(masked))
        return hmac.compare_digest(raw, self._raw(binding))
