"""A person's id and traits: what an identity token may carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scorelet.errors import Problem
from scorelet.mint import mint_identity_token
from scorelet.people import check_person, check_traits, signed_up
from scorelet.tokens import IdentityClaims, Signer


def test_traits_keep_signed_up_at_and_tz_and_free_form_ones() -> None:
    traits = {"signed_up_at": "2026-01-31", "timezone": "Europe/Berlin", "plan": "pro"}
    assert check_traits(traits) == traits


@pytest.mark.parametrize(
    ("traits", "field"),
    [
        ({"signed_up_at": "31/01/2026"}, "traits.signed_up_at"),
        ({"signed_up_at": "1969-12-31"}, "traits.signed_up_at"),
        ({"timezone": "Mars/Olympus"}, "traits.timezone"),
        ({"bad key": "x"}, "traits.bad key"),
        ({"plan": 3}, "traits.plan"),
        ({"since": "x"}, "traits.since"),
    ],
)
def test_bad_traits_are_refused_naming_the_trait(traits: dict[str, object], field: str) -> None:
    with pytest.raises(Problem) as refused:
        check_traits(traits)
    assert (refused.value.status, refused.value.field) == (422, field)


@pytest.mark.parametrize("person", ["", "   ", "a" * 201, "line\nbreak", 42])
def test_bad_person_ids_are_refused(person: object) -> None:
    with pytest.raises(Problem) as refused:
        check_person(person)
    assert refused.value.field == "person"


def test_signed_up_reads_dates_date_times_and_zones() -> None:
    assert signed_up({}) is None
    assert signed_up({"signed_up_at": "2026-01-31"}) == datetime(2026, 1, 31, tzinfo=UTC)
    berlin = signed_up({"signed_up_at": "2026-01-31", "timezone": "Europe/Berlin"})
    assert berlin is not None
    assert berlin.utcoffset() == timedelta(hours=1)
    offset = signed_up({"signed_up_at": "2026-01-31T09:30:00-05:00"})
    assert offset is not None
    assert offset.tzinfo == timezone(timedelta(hours=-5))


def test_minting_checks_and_signs_person_traits_and_expiry() -> None:
    signer = Signer(["s3cret-s3cret-s3cret"])
    minted = mint_identity_token(signer, "user_1", {"plan": "pro"}, "1h", now=1_000_000)
    assert minted.expires_at == 1_003_600
    assert signer.verify(minted.token) == IdentityClaims("user_1", 1_003_600, {"plan": "pro"})
    with pytest.raises(Problem) as refused:
        mint_identity_token(signer, "user_1", {}, "forever")
    assert refused.value.field == "ttl"
