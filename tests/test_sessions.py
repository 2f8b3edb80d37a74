"""Dashboard sessions and CSRF tokens, and the passwords behind them."""

from __future__ import annotations

import pytest

from scorelet.dashboard.sessions import Sessions
from scorelet.passwords import PasswordError, check, hash_password, verify

SECRET = "test-secret-0123456789abcdef"


def test_a_session_round_trips_and_expires() -> None:
    sessions = Sessions((SECRET,))
    session = sessions.new("u1", 3, now=1000.0, ttl=60, tz="Europe/Berlin")
    cookie = sessions.encode(session)
    assert sessions.decode(cookie, 1059.0) == session
    assert sessions.decode(cookie, 1060.0) is None
    assert sessions.decode(cookie[:-2] + "xx", 1000.0) is None
    assert Sessions(("another-secret-0123456789",)).decode(cookie, 1000.0) is None
    assert sessions.new("u1", 3, 1000.0, 60, "UTC").sid != session.sid  # fresh at every sign-in


def test_an_old_secret_still_verifies_after_rotation() -> None:
    old = Sessions((SECRET,))
    cookie = old.encode(old.new("u1", 1, 0.0, 60, "UTC"))
    assert Sessions(("a-brand-new-secret-0123456", SECRET)).decode(cookie, 1.0) is not None


def test_csrf_tokens_are_masked_afresh_and_bound_to_their_session() -> None:
    sessions = Sessions((SECRET,))
    first, second = sessions.csrf_token("sid-a"), sessions.csrf_token("sid-a")
    assert first != second
    assert sessions.csrf_ok("sid-a", first)
    assert sessions.csrf_ok("sid-a", second)
    assert not sessions.csrf_ok("sid-b", first)
    assert not sessions.csrf_ok("sid-a", "")
    assert not sessions.csrf_ok("sid-a", first[:-3] + "AAA")


def test_passwords_are_argon2id_hashes_that_verify() -> None:
    digest = hash_password("correct horse battery")
    assert digest.startswith("$argon2id$")
    assert verify(digest, "correct horse battery")
    assert not verify(digest, "correct horse batterY")
    assert not verify(None, "anything at all")
    assert not verify("not a hash", "anything at all")
    for weak in ("short", "x" * 1025, "has a\x00 nul in it"):
        with pytest.raises(PasswordError):
            check(weak)
