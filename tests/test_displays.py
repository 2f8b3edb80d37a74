"""Response rates relate ratings only to the displays they came from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scorelet.displays import CONTEXT_FILTERS, NO_IMPRESSIONS, Displays, rate_fields


def test_the_rate_is_answered_impressions_over_impressions_in_percent() -> None:
    fields = rate_fields(Displays(impressions=12, answered=3))
    assert fields == {
        "impressions": 12,
        "answered_impressions": 3,
        "response_rate": 25.0,
        "response_rate_reason": None,
    }


def test_the_rate_rounds_to_one_decimal() -> None:
    assert rate_fields(Displays(3, 1))["response_rate"] == 33.3


def test_without_impressions_the_rate_is_null_and_says_why() -> None:
    fields = rate_fields(Displays(0, 0))
    assert (fields["response_rate"], fields["response_rate_reason"]) == (None, NO_IMPRESSIONS)


def test_under_context_filters_the_rate_is_null_and_says_why() -> None:
    fields = rate_fields(None)
    assert fields["impressions"] is None
    assert (fields["response_rate"], fields["response_rate_reason"]) == (None, CONTEXT_FILTERS)


@given(impressions=st.integers(0, 10**6), answered=st.integers(0, 10**6))
def test_the_rate_is_never_above_100(impressions: int, answered: int) -> None:
    rate = rate_fields(Displays(impressions, answered))["response_rate"]
    assert rate is None or 0 <= rate <= 100
