"""CSAT, NPS and their intervals against hand-computed values.

Hand computations use z = 1.959964 (z^2 = 3.841459):

- Wilson 3/5: centre (0.6 + 0.384146) / 1.768292 = 0.556545, half
  1.959964 * sqrt(0.048 + 0.038415) / 1.768292 = 0.325821 -> 23.1 .. 88.2.
- Wilson 0/n: high = z^2 / (n + z^2); n/n: low = n / (n + z^2).
- Tango's score interval for NPS (P promoters, D detractors of n) has closed
  forms in the unanimous cases: all n promoters give [(n - z^2) / (n + z^2), 1],
  all detractors the mirror image, all passives +- z^2 / (n + z^2). So one
  promoter gives [-58.7, 100.0], five promoters [13.1, 100.0], four passives
  [-49.0, 49.0]. Mixed tables are checked by the statistic being +-z at the ends.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorelet.scales import parse_scale
from scorelet.scoring import (
    Z95,
    nps_interval,
    nps_score_statistic,
    percent,
    round1,
    summarize,
    summarize_csat,
    summarize_nps,
    wilson,
)

STARS = parse_scale("stars")
NPS = parse_scale("nps")


def _no_nan(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _no_nan(item)
    elif isinstance(value, float):
        assert not math.isnan(value)


# -- round1 and percent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.25, 12.3),
        (-12.25, -12.3),
        (0.05, 0.1),
        (-0.05, -0.1),
        (12.24, 12.2),
        (-12.24, -12.2),
        (100.0, 100.0),
        (33.333333, 33.3),
        (-66.666666, -66.7),
        (0.0, 0.0),
    ],
)
def test_round1_rounds_half_away_from_zero(value: float, expected: float) -> None:
    assert round1(value) == expected


def test_round1_never_returns_negative_zero() -> None:
    assert math.copysign(1, round1(-0.04)) == 1.0


def test_percent_of_nothing_is_none() -> None:
    assert percent(0, 0) is None


def test_percent_rounds_to_one_decimal() -> None:
    assert percent(1, 3) == 33.3
    assert percent(2, 3) == 66.7
    assert percent(-1, 8) == -12.5


# -- CSAT ----------------------------------------------------------------------------


def test_csat_with_no_responses_is_null_not_zero() -> None:
    body = summarize_csat(STARS, 4, {})
    assert body["responses"] == 0
    assert body["score"] is None
    assert body["mean"] is None
    assert body["satisfied"] == 0
    assert body["interval"] == {"low": None, "high": None, "level": 0.95}
    assert body["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    _no_nan(body)


def test_csat_one_satisfied_response() -> None:
    body = summarize_csat(STARS, 4, {5: 1})
    assert (body["responses"], body["score"], body["satisfied"], body["mean"]) == (1, 100.0, 1, 5)
    assert body["interval"]["low"] == 20.7  # 1 / (1 + z^2)
    assert body["interval"]["high"] == 100.0


def test_csat_one_unsatisfied_response() -> None:
    body = summarize_csat(STARS, 4, {3: 1})
    assert (body["score"], body["satisfied"], body["mean"]) == (0.0, 0, 3)
    assert body["interval"] == {"low": 0.0, "high": 79.3, "level": 0.95}  # z^2 / (1 + z^2)


def test_csat_all_satisfied_is_100() -> None:
    body = summarize_csat(STARS, 4, {4: 6, 5: 4})
    assert body["score"] == 100.0
    assert body["satisfied"] == 10
    assert body["mean"] == 4.4
    assert body["interval"] == {"low": 72.2, "high": 100.0, "level": 0.95}


def test_csat_none_satisfied_is_0() -> None:
    body = summarize_csat(STARS, 4, {1: 4, 2: 3, 3: 3})
    assert body["score"] == 0.0
    assert body["satisfied"] == 0
    assert body["mean"] == 1.9
    assert body["interval"] == {"low": 0.0, "high": 27.8, "level": 0.95}


def test_csat_three_of_five_has_hand_computed_wilson_interval() -> None:
    body = summarize_csat(STARS, 4, {2: 1, 3: 1, 4: 2, 5: 1})
    assert body["score"] == 60.0
    assert body["mean"] == 3.6  # (2 + 3 + 8 + 5) / 5
    assert body["interval"] == {"low": 23.1, "high": 88.2, "level": 0.95}


def test_csat_distribution_lists_every_point_including_empty_ones() -> None:
    body = summarize_csat(parse_scale("numeric:7"), 6, {1: 2, 7: 3})
    assert body["distribution"] == {"1": 2, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0, "7": 3}
    assert body["mean"] == 4.6  # (2 + 21) / 5


def test_csat_custom_satisfied_from_moves_the_threshold() -> None:
    counts = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    assert summarize_csat(STARS, 4, counts)["score"] == 40.0
    assert summarize_csat(STARS, 3, counts)["score"] == 60.0
    assert summarize_csat(STARS, 5, counts)["score"] == 20.0
    assert summarize_csat(STARS, 3, counts)["satisfied_from"] == 3


def test_csat_on_three_faces_counts_only_the_happy_face() -> None:
    body = summarize_csat(parse_scale("smileys3"), 3, {1: 1, 2: 2, 3: 1})
    assert body["score"] == 25.0
    assert body["distribution"] == {"1": 1, "2": 2, "3": 1}


def test_csat_mean_rounds_to_two_decimals() -> None:
    assert summarize_csat(STARS, 4, {4: 2, 5: 1})["mean"] == 4.33


# -- Wilson ------------------------------------------------------------------------------


def test_wilson_with_no_trials_is_none() -> None:
    assert wilson(0, 0) is None


def test_wilson_three_of_five_matches_hand_computation() -> None:
    bounds = wilson(3, 5)
    assert bounds is not None
    assert bounds == (pytest.approx(0.230724, abs=1e-6), pytest.approx(0.882379, abs=1e-6))


def test_wilson_zero_of_ten_starts_at_zero() -> None:
    assert wilson(0, 10) == (0.0, pytest.approx(3.841459 / 13.841459, abs=1e-6))


def test_wilson_ten_of_ten_ends_at_one() -> None:
    assert wilson(10, 10) == (pytest.approx(10 / 13.841459, abs=1e-6), pytest.approx(1.0))


def test_wilson_narrows_as_the_sample_grows() -> None:
    small, large = wilson(3, 5), wilson(3000, 5000)
    assert small is not None
    assert large is not None
    assert large[1] - large[0] < (small[1] - small[0]) / 10


# -- NPS -------------------------------------------------------------------------------------


def test_nps_with_no_responses_is_null_not_zero() -> None:
    body = summarize_nps(NPS, {})
    assert body["responses"] == 0
    assert body["score"] is None
    for group in ("promoters", "passives", "detractors"):
        assert body[group] == {"count": 0, "percent": None}
    assert body["interval"] == {"low": None, "high": None, "level": 0.95}
    assert body["distribution"] == {str(s): 0 for s in range(11)}
    _no_nan(body)


def test_nps_one_promoter() -> None:
    body = summarize_nps(NPS, {10: 1})
    assert body["score"] == 100.0
    assert body["promoters"] == {"count": 1, "percent": 100.0}
    # (1 - z^2) / (1 + z^2) = -0.586904: the interval holds the score it comes with.
    assert body["interval"] == {"low": -58.7, "high": 100.0, "level": 0.95}


def test_nps_one_detractor() -> None:
    body = summarize_nps(NPS, {0: 1})
    assert body["score"] == -100.0
    assert body["interval"] == {"low": -100.0, "high": 58.7, "level": 0.95}


def test_nps_all_detractors_is_minus_100() -> None:
    body = summarize_nps(NPS, {0: 1, 3: 2, 6: 2})
    assert body["score"] == -100.0
    assert body["detractors"] == {"count": 5, "percent": 100.0}
    assert body["passives"] == {"count": 0, "percent": 0.0}
    assert body["promoters"] == {"count": 0, "percent": 0.0}
    # -(5 - z^2) / (5 + z^2) = -0.131017
    assert body["interval"] == {"low": -100.0, "high": -13.1, "level": 0.95}


def test_nps_all_promoters_is_plus_100() -> None:
    body = summarize_nps(NPS, {9: 3, 10: 2})
    assert body["score"] == 100.0
    assert body["promoters"] == {"count": 5, "percent": 100.0}
    assert body["interval"] == {"low": 13.1, "high": 100.0, "level": 0.95}


def test_nps_passives_only_is_0() -> None:
    body = summarize_nps(NPS, {7: 2, 8: 2})
    assert body["score"] == 0.0
    assert body["passives"] == {"count": 4, "percent": 100.0}
    # z^2 / (4 + z^2) = 0.489891
    assert body["interval"] == {"low": -49.0, "high": 49.0, "level": 0.95}


def test_nps_group_boundaries_are_6_7_8_9() -> None:
    body = summarize_nps(NPS, {6: 1, 7: 1, 8: 1, 9: 1})
    assert body["detractors"]["count"] == 1
    assert body["passives"]["count"] == 2
    assert body["promoters"]["count"] == 1


def test_nps_mixed_case_matches_hand_computation() -> None:
    body = summarize_nps(NPS, {10: 3, 9: 2, 8: 2, 7: 1, 5: 1, 0: 1})
    assert body["responses"] == 10
    assert body["score"] == 30.0
    assert body["promoters"] == {"count": 5, "percent": 50.0}
    assert body["passives"] == {"count": 3, "percent": 30.0}
    assert body["detractors"] == {"count": 2, "percent": 20.0}
    assert body["interval"] == {"low": -21.7, "high": 67.5, "level": 0.95}
    low, high = nps_interval(5, 2, 10) or (0.0, 0.0)
    assert nps_score_statistic(5, 2, 10, low) == pytest.approx(Z95, abs=1e-6)
    assert nps_score_statistic(5, 2, 10, high) == pytest.approx(-Z95, abs=1e-6)
    assert body["distribution"]["10"] == 3
    assert body["distribution"]["1"] == 0


def test_nps_score_rounds_the_exact_difference() -> None:
    body = summarize_nps(NPS, {10: 1, 8: 2})
    assert body["score"] == 33.3


def test_nps_interval_with_no_responses_is_none() -> None:
    assert nps_interval(0, 0, 0) is None


def test_nps_interval_of_five_promoters_is_hand_computed() -> None:
    bounds = nps_interval(5, 0, 5)
    assert bounds is not None
    assert bounds[0] == pytest.approx((5 - Z95**2) / (5 + Z95**2), abs=1e-9)
    assert bounds[1] == 1.0


def _tables(largest: int) -> list[tuple[int, int, int]]:
    return [
        (promoters, detractors, n)
        for n in range(1, largest + 1)
        for promoters in range(n + 1)
        for detractors in range(n - promoters + 1)
    ]


@pytest.mark.parametrize(("promoters", "detractors", "n"), _tables(12))
def test_nps_interval_contains_its_score_and_mirrors_for_every_small_table(
    promoters: int, detractors: int, n: int
) -> None:
    bounds = nps_interval(promoters, detractors, n)
    mirrored = nps_interval(detractors, promoters, n)
    assert bounds is not None
    assert mirrored is not None
    low, high = bounds
    estimate = (promoters - detractors) / n
    assert -1.0 <= low <= estimate <= high <= 1.0
    assert low < high
    assert mirrored == pytest.approx((-high, -low), abs=1e-9)
    # Each end short of +-1 is where the score test stops rejecting.
    if low > -1.0:
        assert nps_score_statistic(promoters, detractors, n, low) == pytest.approx(Z95, abs=1e-6)
    if high < 1.0:
        assert nps_score_statistic(promoters, detractors, n, high) == pytest.approx(-Z95, abs=1e-6)


# -- summarize ---------------------------------------------------------------------------------


def test_summarize_nps_ignores_satisfied_from() -> None:
    body = summarize("nps", NPS, None, {10: 1, 1: 1})
    assert body["metric"] == "nps"
    assert body["score"] == 0.0


# -- properties -------------------------------------------------------------------------------

csat_counts = st.dictionaries(st.integers(1, 5), st.integers(0, 10_000), max_size=5)
nps_counts = st.dictionaries(st.integers(0, 10), st.integers(0, 10_000), max_size=11)


@settings(database=None)
@given(counts=csat_counts, satisfied_from=st.integers(2, 5))
def test_csat_score_and_interval_stay_within_0_and_100(
    counts: dict[int, int], satisfied_from: int
) -> None:
    body = summarize_csat(STARS, satisfied_from, counts)
    _no_nan(body)
    assert sum(body["distribution"].values()) == body["responses"] == sum(counts.values())
    if body["responses"] == 0:
        assert body["score"] is None
        return
    low, high = body["interval"]["low"], body["interval"]["high"]
    assert 0.0 <= body["score"] <= 100.0
    assert 0.0 <= low <= body["score"] <= high <= 100.0
    assert 1.0 <= body["mean"] <= 5.0


@settings(database=None)
@given(counts=nps_counts)
def test_nps_score_and_interval_stay_within_minus_100_and_100(counts: dict[int, int]) -> None:
    body = summarize_nps(NPS, counts)
    _no_nan(body)
    groups = [body[g]["count"] for g in ("promoters", "passives", "detractors")]
    assert sum(groups) == body["responses"] == sum(body["distribution"].values())
    if body["responses"] == 0:
        assert body["score"] is None
        return
    low, high = body["interval"]["low"], body["interval"]["high"]
    assert -100.0 <= body["score"] <= 100.0
    assert -100.0 <= low <= body["score"] <= high <= 100.0
    assert body["score"] == pytest.approx(
        body["promoters"]["percent"] - body["detractors"]["percent"], abs=0.11
    )


@settings(database=None)
@given(successes=st.integers(0, 10_000), extra=st.integers(0, 10_000))
def test_wilson_interval_contains_the_observed_share(successes: int, extra: int) -> None:
    n = successes + extra
    bounds = wilson(successes, n)
    if n == 0:
        assert bounds is None
        return
    assert bounds is not None
    assert 0.0 <= bounds[0] <= successes / n + 1e-12
    assert successes / n - 1e-12 <= bounds[1] <= 1.0


@settings(database=None)
@given(value=st.floats(-1000, 1000, allow_nan=False))
def test_round1_is_within_a_twentieth_and_symmetric(value: float) -> None:
    rounded = round1(value)
    assert abs(rounded - value) <= 0.05 + 1e-9
    assert round1(-value) == -rounded
