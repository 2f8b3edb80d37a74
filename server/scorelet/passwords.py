"""Dashboard passwords: the rules for choosing one and argon2id hashes of it. No I/O.

API keys carry 192 random bits, so a fast hash is enough for them
(tokens.py); a password a person chose does not, so it is stored as an
argon2id hash with argon2-cffi's defaults (RFC 9106's low-memory profile:
64 MiB, 3 passes), which makes each guess against a stolen database cost
real memory and time. Hashing takes a fifth of a second of CPU: callers run
it in a thread, never on the event loop.
"""

from __future__ import annotations

import functools
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024

_HASHER = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Checked against when no account has the address, so a sign-in takes as long either
    way and its time doesn't tell which addresses have accounts. Made on first use: every
    `scorelet` command imports this module."""
    return _HASHER.hash("no account has this address")


class PasswordError(ValueError):
    """A password that can't be used; the message says why, for the form to show."""


def check(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password can have at most {MAX_LENGTH} characters")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in password):
        raise PasswordError("a password can't contain control characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check(password))


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` is the one hashed in `stored` (None: check a dummy, say no)."""
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
