"""Signed tokens, durations and API keys."""

from __future__ import annotations

import hashlib
import string

import pytest

from scorelet.api.auth import KeyChecks
from scorelet.tokens import (
    MAX_TOKEN_LENGTH,
    EmbedClaims,
    IdentityClaims,
    Signer,
    SubjectClaims,
    TokenError,
    api_key_id,
    api_key_matches,
    hash_api_key,
    new_api_key,
    parse_duration,
)

EXPIRES = 1_900_000_000


def _bad(signer: Signer, token: str) -> TokenError:
    with pytest.raises(TokenError) as caught:
        signer.verify(token)
    assert caught.value.code == "bad_token"
    return caught.value


def test_embed_token_round_trips() -> None:
    signer = Signer(["s3cret"])
    token = signer.mint_embed("checkout", 3)
    assert token.startswith("e.")
    assert signer.verify(token) == EmbedClaims("checkout", 3)


def test_subject_token_round_trips_with_context() -> None:
    signer = Signer(["s3cret"])
    token = signer.mint_subject("support", "conv-42", {"agent": "alice", "team": "t1"}, EXPIRES)
    assert token.startswith("s.")
    claims = signer.verify(token)
    assert isinstance(claims, SubjectClaims)
    assert (claims.touchpoint, claims.subject, claims.expires_at) == ("support", "conv-42", EXPIRES)
    assert dict(claims.context) == {"agent": "alice", "team": "t1"}


def test_subject_claims_context_is_read_only() -> None:
    signer = Signer(["s3cret"])
    claims = signer.verify(signer.mint_subject("support", "c", {"agent": "a"}, EXPIRES))
    assert isinstance(claims, SubjectClaims)
    with pytest.raises(TypeError):
        claims.context["agent"] = "mallory"  # type: ignore[index]


def test_subject_token_with_unicode_subject_round_trips() -> None:
    signer = Signer(["s3cret"])
    claims = signer.verify(signer.mint_subject("support", "Bestellung-ä-日本", {}, EXPIRES))
    assert isinstance(claims, SubjectClaims)
    assert claims.subject == "Bestellung-ä-日本"


@pytest.mark.parametrize("kind", ["embed", "subject"])
def test_changing_any_character_of_a_token_breaks_it(kind: str) -> None:
    signer = Signer(["s3cret"])
    if kind == "embed":
        token = signer.mint_embed("checkout", 1)
    else:
        token = signer.mint_subject("support", "conv-1", {"agent": "alice"}, EXPIRES)
    alphabet = string.ascii_letters + string.digits + "-_."
    # The last character of the base64 signature carries two padding bits that
    # itsdangerous ignores; changing only those yields the same signature.
    for index, char in enumerate(token[:-1]):
        replacement = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        _bad(signer, token[:index] + replacement + token[index + 1 :])


def test_changing_the_signature_bits_of_the_last_character_breaks_the_token() -> None:
    signer = Signer(["s3cret"])
    token = signer.mint_embed("checkout", 1)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(token[-1])
    flipped = alphabet[last ^ 0b110000]  # the high bits of the sextet are signature bits
    _bad(signer, token[:-1] + flipped)


@pytest.mark.parametrize(
    "token",
    ["", "e.", "s.", "x.abc", "e.abc", "s.abc.def", "e." + "\ud800", "e.é", "e.\x00abc", "  "],
)
def test_garbage_tokens_are_bad_tokens(token: str) -> None:
    _bad(Signer(["s3cret"]), token)


def test_truncated_token_is_refused() -> None:
    signer = Signer(["s3cret"])
    token = signer.mint_embed("checkout", 1)
    _bad(signer, token[:-1])
    _bad(signer, token + "x")


def test_embed_payload_cannot_pass_as_subject_token() -> None:
    signer = Signer(["s3cret"])
    embed = signer.mint_embed("checkout", 1)
    _bad(signer, "s." + embed[2:])


def test_identity_token_round_trips_with_traits() -> None:
    signer = Signer(["s3cret"])
    token = signer.mint_identity("user_1", {"plan": "pro"}, EXPIRES)
    assert token.startswith("i.")
    claims = signer.verify(token)
    assert claims == IdentityClaims("user_1", EXPIRES, {"plan": "pro"})
    assert isinstance(claims, IdentityClaims)
    assert claims.expired(EXPIRES)
    assert not claims.expired(EXPIRES - 1)


@pytest.mark.parametrize("prefix", ["e.", "s."])
def test_identity_payload_cannot_pass_as_another_kind(prefix: str) -> None:
    signer = Signer(["s3cret"])
    identity = signer.mint_identity("user_1", {}, EXPIRES)
    _bad(signer, prefix + identity[2:])


@pytest.mark.parametrize("kind", ["embed", "subject"])
def test_other_payloads_cannot_pass_as_identity_tokens(kind: str) -> None:
    signer = Signer(["s3cret"])
    token = (
        signer.mint_embed("checkout", 1)
        if kind == "embed"
        else signer.mint_subject("support", "c", {}, EXPIRES)
    )
    _bad(signer, "i." + token[2:])


def test_subject_payload_cannot_pass_as_embed_token() -> None:
    signer = Signer(["s3cret"])
    subject = signer.mint_subject("support", "conv-1", {}, EXPIRES)
    _bad(signer, "e." + subject[2:])


def test_token_signed_with_another_secret_is_refused() -> None:
    token = Signer(["other"]).mint_embed("checkout", 1)
    _bad(Signer(["s3cret"]), token)


def test_rotation_verifies_tokens_signed_with_the_old_secret() -> None:
    old_embed = Signer(["old"]).mint_embed("checkout", 2)
    old_subject = Signer(["old"]).mint_subject("support", "c", {}, EXPIRES)
    rotated = Signer(["new", "old"])
    assert rotated.verify(old_embed) == EmbedClaims("checkout", 2)
    assert isinstance(rotated.verify(old_subject), SubjectClaims)


def test_rotation_signs_with_the_first_secret() -> None:
    rotated = Signer(["new", "old"])
    embed = rotated.mint_embed("checkout", 1)
    subject = rotated.mint_subject("support", "c", {}, EXPIRES)
    assert Signer(["new"]).verify(embed) == EmbedClaims("checkout", 1)
    assert isinstance(Signer(["new"]).verify(subject), SubjectClaims)
    _bad(Signer(["old"]), embed)
    _bad(Signer(["old"]), subject)


def test_dropping_an_old_secret_invalidates_its_tokens() -> None:
    token = Signer(["old"]).mint_embed("checkout", 1)
    _bad(Signer(["new"]), token)


@pytest.mark.parametrize("secrets", [[], [""], ["a", ""]])
def test_signer_needs_non_empty_secrets(secrets: list[str]) -> None:
    with pytest.raises(ValueError, match="secret"):
        Signer(secrets)


def test_subject_claims_expire_at_their_expiry() -> None:
    claims = SubjectClaims("support", "c", EXPIRES)
    assert not claims.expired(EXPIRES - 0.5)
    assert claims.expired(EXPIRES)
    assert claims.expired(EXPIRES + 1)


def test_verification_does_not_check_expiry() -> None:
    signer = Signer(["s3cret"])
    claims = signer.verify(signer.mint_subject("support", "c", {}, 10))
    assert isinstance(claims, SubjectClaims)
    assert claims.expired(EXPIRES)


def test_overlong_token_is_refused_before_verifying() -> None:
    signer = Signer(["s3cret"])
    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(200))
    token = signer.mint_subject("support", "c", {"note": noise}, EXPIRES)
    assert len(token) > MAX_TOKEN_LENGTH
    error = _bad(signer, token)
    assert "too long" in str(error)


def test_failed_verification_is_not_cached() -> None:
    signer = Signer(["s3cret"])
    token = Signer(["other"]).mint_embed("checkout", 1)
    _bad(signer, token)
    _bad(signer, token)


# -- durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("45s", 45),
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        (" 5m ", 300),
        ("366d", 366 * 86400),
    ],
)
def test_parse_duration_understands_units(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "d", "1y", "5 m", "-5m", "1.5h", "7D", "1000000000", "0", "0d", "367d", "53w"]
)
def test_parse_duration_refuses_bad_or_out_of_range_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


# -- API keys ---------------------------------------------------------------------------


def test_new_api_key_has_prefix_id_and_secret() -> None:
    key_id, key = new_api_key()
    prefix, embedded_id, rest = key.split("_", 2)
    assert prefix == "slk"
    assert embedded_id == key_id
    assert len(key_id) == 8
    assert all(c in string.hexdigits for c in key_id)
    assert len(rest) >= 32


def test_new_api_keys_differ() -> None:
    assert len({new_api_key()[1] for _ in range(50)}) == 50


def test_api_key_id_reads_the_id_of_a_real_key() -> None:
    key_id, key = new_api_key()
    assert api_key_id(key) == key_id


def test_api_key_id_keeps_underscores_in_the_secret_part() -> None:
    assert api_key_id("slk_0123abcd_se_cr_et") == "0123abcd"


@pytest.mark.parametrize(
    "key", ["", "slk", "slk_0123abcd", "xyz_0123abcd_secret", "slk_0123abc_secret", "Bearer x"]
)
def test_api_key_id_is_none_for_malformed_keys(key: str) -> None:
    assert api_key_id(key) is None


def test_api_key_hash_is_sha256_hex_and_not_the_key() -> None:
    _, key = new_api_key()
    digest = hash_api_key(key)
    assert len(digest) == 64
    assert key not in digest
    assert hash_api_key(key) == digest
    assert hash_api_key("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_api_key_matches_only_its_own_hash() -> None:
    _, key = new_api_key()
    _, other = new_api_key()
    stored = hash_api_key(key)
    assert api_key_matches(key, stored)
    assert not api_key_matches(other, stored)
    assert not api_key_matches(key[:-1], stored)


def test_key_checks_remember_only_a_key_that_matched_its_stored_hash() -> None:
    checks = KeyChecks(size=2)
    _, key = new_api_key()
    _, other = new_api_key()
    stored = hash_api_key(key)
    assert checks.matches(key, stored)
    assert checks.matches(key, stored)  # from memory now
    assert not checks.matches(other, stored)
    assert not checks.matches(key + "x", stored)
    assert not checks.matches(key, hash_api_key(other))  # a different record: no reuse
    for _ in range(3):  # more keys than the bound: cleared, still right
        _, extra = new_api_key()
        assert checks.matches(extra, hash_api_key(extra))
    assert checks.matches(key, stored)
