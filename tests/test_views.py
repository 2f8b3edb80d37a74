"""The answers' typed definitions and the JSON Schema made from them."""

from __future__ import annotations

import dataclasses
from typing import Annotated, NotRequired, TypedDict

import jsonschema
import pytest

from scorelet.displays import Displays
from scorelet.eligibility import GLOBAL_SETTINGS
from scorelet.ratings import Ratings, Window, rates
from scorelet.routing.destinations import Destination
from scorelet.scales import parse_scale
from scorelet.touchpoints import CREATABLE, EDITABLE, Touchpoint, TouchpointSettings
from scorelet.views import VIEWS, SettingsView, TagView, about, schema


class Sample(TypedDict):
    name: Annotated[str, about("what it is called", pattern="^[a-z]+$")]
    size: int | None
    tags: list[TagView]
    extra: NotRequired[dict[str, str]]


def test_a_view_becomes_a_closed_object_with_its_keys_required_unless_marked() -> None:
    assert schema(Sample) == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$", "description": "what it is called"},
            "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
            "extra": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["name", "size", "tags"],
        "additionalProperties": False,
    }


def test_a_type_with_no_json_form_is_refused() -> None:
    class Odd(TypedDict):
        when: bytes

    with pytest.raises(TypeError, match="bytes"):
        schema(Odd)


@pytest.mark.parametrize(
    "destination",
    [
        Destination(1, "fires", "slack", "https://hooks.slack.com/services/T/B/x", None),
        Destination(2, "hook", "webhook", "https://h.example/in?k=1", "whsec_" + "A" * 44),
        Destination(3, "tickets", "linear", "https://api.linear.app/graphql", "lin_api_x" * 4,
                    "TEAM", 2, ("support",), disabled_at=5.0, disabled_reason="410"),
    ],
    ids=["slack", "webhook", "linear"],
)  # fmt: skip
def test_every_kind_of_destination_answers_as_its_view_says(destination: Destination) -> None:
    """The keys only some kinds have are the view's optional ones; nothing else appears."""
    jsonschema.validate(destination.public(), schema(VIEWS["Destination"]))


def _touchpoint(metric: str, scale: str, satisfied_from: int | None) -> Touchpoint:
    return Touchpoint(
        *(1, "t", metric, parse_scale(scale), None, None, None, None, None, None),
        *((), satisfied_from, 0, True, 1, 0.0, 0.0),
    )


@pytest.mark.parametrize(
    ("metric", "scale", "satisfied_from"), [("csat", "stars", 4), ("nps", "nps", None)]
)
def test_a_touchpoint_answers_as_its_view_says(
    metric: str, scale: str, satisfied_from: int | None
) -> None:
    """Every setting a touchpoint can be created with is in its answer, as the view types it."""
    public = _touchpoint(metric, scale, satisfied_from).public()
    answer = {**public, "embed_token": "e.x", "embed_url": "http://h.example/s/e.x.js"}
    jsonschema.validate(answer, schema(VIEWS["Touchpoint"]))
    assert set(public) >= CREATABLE


@pytest.mark.parametrize(
    ("metric", "scale", "satisfied_from"), [("csat", "stars", 4), ("nps", "nps", None)]
)
@pytest.mark.parametrize(
    "window",
    [Window(), Window(0.0, 86400.0, {"plan": "pro"}, "billing", 2, 9, True, ("slow",))],
    ids=["all time", "every filter"],
)
def test_a_score_answers_as_its_view_says(
    metric: str, scale: str, satisfied_from: int | None, window: Window
) -> None:
    """Each metric's own keys and every optional filter key are in the view, and no more."""
    touchpoint = _touchpoint(metric, scale, satisfied_from)
    rated = rates(window, Displays(10, 3))
    body = {**Ratings.score_body(touchpoint, {4: 3, 1: 1}, rated), **window.public()}
    jsonschema.validate(body, schema(VIEWS["Score"]))
    assert ("promoters" in body) is (metric == "nps")
    with pytest.raises(jsonschema.ValidationError, match="unexpected"):
        jsonschema.validate({**body, "median": 4}, schema(VIEWS["Score"]))


def test_every_install_wide_setting_is_in_the_settings_answer() -> None:
    assert set(SettingsView.__annotations__) == set(GLOBAL_SETTINGS)


def test_the_settings_body_takes_every_editable_setting_and_no_other() -> None:
    assert {spec.name for spec in dataclasses.fields(TouchpointSettings)} == EDITABLE
