"""Rules for creating and changing touchpoints."""

from __future__ import annotations

from typing import Any

import pytest

from scorelet.errors import Problem
from scorelet.scales import parse_scale
from scorelet.touchpoints import Touchpoint, changed_fields, new_touchpoint_fields

STARS = parse_scale("stars")
NPS = parse_scale("nps")


def _refused(code: str, field: str, fn: Any, *args: Any) -> None:
    with pytest.raises(Problem) as caught:
        fn(*args)
    assert (caught.value.code, caught.value.field, caught.value.status) == (code, field, 422)


def test_new_csat_touchpoint_defaults_to_stars_and_top_two_boxes() -> None:
    fields = new_touchpoint_fields({"slug": "checkout", "metric": "csat"})
    assert fields == {"slug": "checkout", "metric": "csat", "scale": "stars", "satisfied_from": 4}


def test_new_touchpoint_on_three_faces_defaults_to_the_happy_face() -> None:
    fields = new_touchpoint_fields({"slug": "chat", "metric": "csat", "scale": "smileys3"})
    assert fields["satisfied_from"] == 3


def test_new_numeric_touchpoint_defaults_to_n_minus_one() -> None:
    fields = new_touchpoint_fields({"slug": "effort", "metric": "csat", "scale": "numeric:7"})
    assert (fields["scale"], fields["satisfied_from"]) == ("numeric:7", 6)


def test_new_nps_touchpoint_is_0_to_10_without_threshold() -> None:
    fields = new_touchpoint_fields({"slug": "q3", "metric": "nps"})
    assert fields == {"slug": "q3", "metric": "nps", "scale": "nps", "satisfied_from": None}


def test_new_touchpoint_validates_every_option() -> None:
    fields = new_touchpoint_fields(
        {
            "slug": "support",
            "metric": "csat",
            "scale": "smileys",
            "question": "How did we do?",
            "low_label": "",
            "origins": ["https://Shop.example.com:443/"],
            "satisfied_from": 5,
            "cooldown_days": 30,
            "locale": "pt-BR",
            "active": False,
        }
    )
    assert fields["question"] == "How did we do?"
    assert fields["low_label"] is None
    assert fields["origins"] == ["https://shop.example.com"]
    assert fields["satisfied_from"] == 5
    assert (fields["cooldown_days"], fields["locale"], fields["active"]) == (30, "pt-BR", False)


def test_new_touchpoint_needs_a_metric() -> None:
    _refused("missing_field", "metric", new_touchpoint_fields, {"slug": "a"})


def test_new_touchpoint_needs_a_good_slug() -> None:
    _refused("wrong_type", "slug", new_touchpoint_fields, {"metric": "csat"})
    _refused("invalid_value", "slug", new_touchpoint_fields, {"slug": "A B", "metric": "csat"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "ces"}, "metric"),
        ({"metric": 1}, "metric"),
        ({"metric": "nps", "scale": "stars"}, "scale"),
        ({"metric": "csat", "scale": "nps"}, "scale"),
        ({"metric": "csat", "scale": "numeric:11"}, "scale"),
        ({"metric": "csat", "scale": 5}, "scale"),
        ({"metric": "nps", "satisfied_from": 9}, "satisfied_from"),
        ({"metric": "csat", "satisfied_from": 1}, "satisfied_from"),
        ({"metric": "csat", "scale": "smileys3", "satisfied_from": 4}, "satisfied_from"),
    ],
)
def test_new_touchpoint_refuses_incompatible_metric_scale_and_threshold(
    body: dict[str, Any], field: str
) -> None:
    with pytest.raises(Problem) as caught:
        new_touchpoint_fields({"slug": "tp", **body})
    assert caught.value.field == field
    assert caught.value.status == 422


def test_new_touchpoint_refuses_unknown_fields() -> None:
    _refused(
        "unknown_field",
        "colour",
        new_touchpoint_fields,
        {"slug": "a", "metric": "csat", "colour": "red"},
    )


def test_update_refuses_changing_metric_scale_or_slug() -> None:
    for name in ("metric", "scale", "slug"):
        _refused("immutable_field", name, changed_fields, "csat", STARS, {name: "x"})


def test_update_refuses_unknown_fields() -> None:
    _refused("unknown_field", "token_version", changed_fields, "csat", STARS, {"token_version": 2})


def test_update_returns_only_the_fields_given() -> None:
    assert changed_fields("csat", STARS, {}) == {}
    assert changed_fields("csat", STARS, {"question": "Better?"}) == {"question": "Better?"}


def test_update_clears_text_with_empty_string_or_null() -> None:
    fields = changed_fields("csat", STARS, {"question": "", "thank_you": None})
    assert fields == {"question": None, "thank_you": None}


@pytest.mark.parametrize("value", [0, 1, 6, -3, 10**9])
def test_satisfied_from_outside_the_scale_has_one_rule_and_one_message(value: int) -> None:
    with pytest.raises(Problem) as refused:
        changed_fields("csat", STARS, {"satisfied_from": value})
    assert refused.value.code == "out_of_range"
    assert refused.value.detail == "satisfied_from must be between 2 and 5 on stars"


def test_update_null_satisfied_from_resets_the_default() -> None:
    assert changed_fields("csat", STARS, {"satisfied_from": None}) == {"satisfied_from": 4}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"satisfied_from": 6}, "out_of_range", "satisfied_from"),
        ({"satisfied_from": 4.5}, "wrong_type", "satisfied_from"),
        ({"satisfied_from": 1}, "out_of_range", "satisfied_from"),
        ({"cooldown_days": -1}, "out_of_range", "cooldown_days"),
        ({"cooldown_days": 3651}, "out_of_range", "cooldown_days"),
        ({"cooldown_days": True}, "wrong_type", "cooldown_days"),
        ({"active": 1}, "wrong_type", "active"),
        ({"active": "yes"}, "wrong_type", "active"),
        ({"question": "x" * 301}, "too_long", "question"),
        ({"low_label": "x" * 61}, "too_long", "low_label"),
        ({"question": "a\x00"}, "invalid_text", "question"),
        ({"locale": "english"}, "invalid_value", "locale"),
        ({"origins": "https://a.example"}, "wrong_type", "origins"),
    ],
)
def test_update_validates_each_field(body: dict[str, Any], code: str, field: str) -> None:
    _refused(code, field, changed_fields, "csat", STARS, body)


def test_update_nps_satisfied_from_is_refused() -> None:
    _refused("invalid_value", "satisfied_from", changed_fields, "nps", NPS, {"satisfied_from": 9})
    assert changed_fields("nps", NPS, {"satisfied_from": None}) == {"satisfied_from": None}


def test_touchpoint_public_shape_includes_scale_bounds() -> None:
    touchpoint = Touchpoint(
        1,
        "q3",
        "nps",
        NPS,
        None,
        None,
        None,
        None,
        None,
        "de",
        ("https://a.example",),
        None,
        0,
        True,
        1,
        0.0,
        0.0,
    )
    public = touchpoint.public()
    assert (public["scale"], public["min"], public["max"]) == ("nps", 0, 10)
    assert public["origins"] == ["https://a.example"]
    assert "id" not in public
    assert "token_version" not in public


def _touchpoint(metric: str, scale: str, satisfied_from: int | None) -> Touchpoint:
    return Touchpoint(
        *(1, "t", metric, parse_scale(scale), None, None, None, None, None, None),
        *((), satisfied_from, 0, True, 1, 0.0, 0.0),
    )


@pytest.mark.parametrize(
    ("metric", "scale", "satisfied_from", "groups"),
    [
        ("csat", "stars", 4, [0, 0, 1, 2, 2]),
        ("csat", "smileys3", 3, [0, 1, 2]),
        ("csat", "numeric:7", 6, [0, 0, 0, 0, 1, 2, 2]),
        ("csat", "stars", 5, [0, 0, 0, 1, 2]),
        ("nps", "nps", None, [0] * 7 + [1, 1, 2, 2]),
    ],
)
def test_scores_fall_into_low_middle_and_top_groups(
    metric: str, scale: str, satisfied_from: int | None, groups: list[int]
) -> None:
    touchpoint = _touchpoint(metric, scale, satisfied_from)
    assert [touchpoint.group(s) for s in touchpoint.scale.points] == groups
