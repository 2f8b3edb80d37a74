"""Scales: names, bounds, metric compatibility and satisfied thresholds."""

from __future__ import annotations

import pytest

from scorelet.scales import Scale, ScaleError, parse_scale, satisfied_threshold, scale_for


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("stars", 1, 5),
        ("smileys", 1, 5),
        ("smileys3", 1, 3),
        ("nps", 0, 10),
        ("numeric:3", 1, 3),
        ("numeric:7", 1, 7),
        ("numeric:10", 1, 10),
    ],
)
def test_parse_scale_knows_every_name(name: str, low: int, high: int) -> None:
    scale = parse_scale(name)
    assert (scale.name, scale.low, scale.high) == (name, low, high)
    assert list(scale.points) == list(range(low, high + 1))


def test_numeric_scale_name_is_normalised() -> None:
    assert parse_scale("numeric:05").name == "numeric:5"


@pytest.mark.parametrize(
    "name",
    [
        "numeric:2",
        "numeric:11",
        "numeric:0",
        "numeric:-5",
        "numeric:",
        "numeric:x",
        "numeric: 5",
        "numeric:5.0",
        "numeric:\u00b2",  # superscript two: isdigit() but not int()
        "numeric:\u0665",  # Arabic-Indic five
        "numeric:" + "9" * 5000,
    ],
)
def test_numeric_scale_out_of_bounds_or_malformed_is_refused(name: str) -> None:
    with pytest.raises(ScaleError) as caught:
        parse_scale(name)
    assert caught.value.field == "scale"


@pytest.mark.parametrize("name", ["", "Stars", "star", "stars ", "smileys4", "nps:10", "likert"])
def test_unknown_scale_names_are_refused(name: str) -> None:
    with pytest.raises(ScaleError, match="unknown scale") as caught:
        parse_scale(name)
    assert caught.value.field == "scale"


def test_accepts_only_scores_on_the_scale() -> None:
    stars = parse_scale("stars")
    assert [s for s in range(-1, 8) if stars.accepts(s)] == [1, 2, 3, 4, 5]
    nps = parse_scale("nps")
    assert [s for s in range(-1, 12) if nps.accepts(s)] == list(range(11))


@pytest.mark.parametrize("scale", [None, "nps"])
def test_nps_metric_always_uses_the_0_to_10_scale(scale: str | None) -> None:
    assert scale_for("nps", scale) == Scale("nps", 0, 10)


@pytest.mark.parametrize("scale", ["stars", "smileys", "smileys3", "numeric:10", "bogus"])
def test_nps_metric_refuses_any_other_scale(scale: str) -> None:
    with pytest.raises(ScaleError, match="0-10") as caught:
        scale_for("nps", scale)
    assert caught.value.field == "scale"


def test_nps_scale_is_refused_for_csat() -> None:
    with pytest.raises(ScaleError, match="--metric nps") as caught:
        scale_for("csat", "nps")
    assert caught.value.field == "scale"


def test_csat_defaults_to_stars() -> None:
    assert scale_for("csat", None).name == "stars"


@pytest.mark.parametrize("name", ["stars", "smileys", "smileys3", "numeric:4"])
def test_csat_accepts_every_non_nps_scale(name: str) -> None:
    assert scale_for("csat", name) == parse_scale(name)


@pytest.mark.parametrize("metric", ["", "CSAT", "ces", "nps "])
def test_unknown_metric_is_refused(metric: str) -> None:
    with pytest.raises(ScaleError) as caught:
        scale_for(metric, None)
    assert caught.value.field == "metric"


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("stars", 4),
        ("smileys", 4),
        ("smileys3", 3),
        ("numeric:3", 2),
        ("numeric:5", 4),
        ("numeric:7", 6),
        ("numeric:10", 9),
    ],
)
def test_default_satisfied_threshold_is_top_two_boxes_but_happy_face_on_three(
    name: str, default: int
) -> None:
    scale = parse_scale(name)
    assert scale.default_satisfied_from() == default
    assert satisfied_threshold("csat", scale, None) == default


@pytest.mark.parametrize(("name", "value"), [("stars", 2), ("stars", 5), ("smileys3", 2)])
def test_satisfied_from_within_the_scale_is_kept(name: str, value: int) -> None:
    assert satisfied_threshold("csat", parse_scale(name), value) == value


@pytest.mark.parametrize(
    ("name", "value"), [("stars", 1), ("stars", 0), ("stars", 6), ("smileys3", 4), ("numeric:7", 8)]
)
def test_satisfied_from_at_the_bottom_or_off_the_scale_is_refused(name: str, value: int) -> None:
    with pytest.raises(ScaleError) as caught:
        satisfied_threshold("csat", parse_scale(name), value)
    assert caught.value.field == "satisfied_from"


def test_nps_takes_no_satisfied_threshold() -> None:
    nps = parse_scale("nps")
    assert satisfied_threshold("nps", nps, None) is None
    with pytest.raises(ScaleError) as caught:
        satisfied_threshold("nps", nps, 9)
    assert caught.value.field == "satisfied_from"
