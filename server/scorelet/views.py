"""What the API answers with, as typed definitions: one source for the encoders and the schema.

Each answer is a `TypedDict`. The record that makes it (`Response.public()`,
`Rule.public()`, ...) is annotated to return it, so `mypy --strict` refuses
a key the definition doesn't list, a missing one or a value of the wrong
type; `schema(View)` turns the same annotations into the JSON Schema that
/openapi.json publishes (every key required unless `NotRequired`, no other
keys allowed). `Annotated[T, About(...)]` adds a description and keywords
such as `format`. Views name each other by their component name (`VIEWS`).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, NotRequired, TypedDict

from scorelet.displays import REASONS as RATE_REASONS
from scorelet.eligibility import REASONS
from scorelet.routing.destinations import KINDS
from scorelet.routing.periods import EVERY
from scorelet.routing.rules import EVENTS, GROUPS
from scorelet.series import INTERVALS
from scorelet.shapes import CONTEXT_SCHEMA
from scorelet.validation import NAME

Schema = dict[str, Any]


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: `X | None` hashes it
class About:
    description: str = ""
    keywords: dict[str, Any] = field(default_factory=dict)


def about(description: str = "", **keywords: Any) -> About:
    return About(description, keywords)


def one_of(values: tuple[str, ...], description: str = "") -> About:
    return About(description, {"enum": list(values)})


Time = Annotated[str, about(format="date-time")]
Uuid = Annotated[str, about(format="uuid")]
Event = Annotated[str, one_of(EVENTS)]
DELIVERY_STATES = ("pending", "failed", "delivered", "dead")


class TagView(TypedDict):
    tag: str
    source: Annotated[str, one_of(("manual", "rule"))]
    rule: str | None
    matched: Annotated[list[str], about("what the rule's comment pattern matched")]


class IssueView(TypedDict):
    destination: str
    identifier: Annotated[str, about("e.g. SUP-123")]
    url: str


class RatingView(TypedDict):
    id: Uuid
    touchpoint: str
    score: int
    comment: str | None
    subject: str | None
    person: Annotated[str | None, about("the identified person who rated")]
    context: Annotated[dict[str, str], about(**CONTEXT_SCHEMA)]
    created_at: Time
    updated_at: Time
    tags: list[TagView]
    issues: list[IssueView]


class DeliveryView(TypedDict):
    id: Uuid
    destination: str
    kind: Annotated[str, one_of(("rating", "digest"))]
    rule: str | None
    event: Event | None
    response_id: Uuid | None
    state: Annotated[str, one_of(DELIVERY_STATES)]
    attempts: int
    next_attempt_at: Annotated[Time | None, about("pending or failed: when it is tried next")]
    waiting_for_comment: bool
    last_status: int | None
    last_error: str | None
    created_at: Time
    updated_at: Time


class DigestView(TypedDict):
    name: str
    destination: str
    every: Annotated[str, one_of(EVERY)]
    touchpoints: Annotated[list[str], about("none: every touchpoint")]
    tz: str
    at: str
    last_period: Annotated[str | None, about("the last period sent, e.g. 2026-W47")]


class ScoreRange(TypedDict):
    min: int
    max: int


class RuleView(TypedDict):
    name: Annotated[str, about(pattern=NAME.pattern)]
    touchpoints: list[str]
    score: ScoreRange | None
    group: Annotated[str, one_of(GROUPS)] | None
    has_comment: bool
    comment_matches: Annotated[str | None, about("RE2 pattern, case-insensitive")]
    context: dict[str, str]
    tag: str | None
    events: list[Event]
    wait_for_comment: Annotated[int, about("seconds a notification waits for a comment")]
    notify: list[str]
    add_tags: list[str]


class DestinationView(TypedDict):
    name: str
    type: Annotated[str, one_of(KINDS)]
    url: Annotated[str, about("masked for Slack (the URL is the credential)")]
    enabled: bool
    disabled_reason: str | None
    secret: NotRequired[Annotated[str | None, about("webhooks: whsec_..., whole only in the 201")]]
    api_key: NotRequired[Annotated[str | None, about("Linear: masked")]]
    team: NotRequired[str | None]
    priority: NotRequired[int | None]
    labels: NotRequired[list[str]]


class TestSendView(TypedDict):
    """What a destination's receiver answered to a test message."""

    ok: bool
    status: Annotated[int | None, about("the receiver's HTTP status; null: no answer")]
    body: Annotated[str, about("the start of the receiver's answer")]
    error: Annotated[str | None, about("why it failed, in a sentence")]


class BackfillView(TypedDict):
    rule: str
    seen: Annotated[int, about("stored ratings looked at")]
    tagged: Annotated[int, about("of them, tagged by the rule now")]


# Install-wide settings (eligibility.GLOBAL_SETTINGS) are named with hyphens, as in the CLI.
SettingsView = TypedDict(
    "SettingsView",
    {
        "recontact-days": Annotated[
            int, about("the global throttle: one survey per person per N days (0: off)")
        ]
    },
)


class MintedIdentityView(TypedDict):
    identity: Annotated[str, about("for data-identity or ?identity= (i.…)")]
    person: str
    traits: dict[str, str]
    expires_at: Time


class DecisionView(TypedDict):
    show: bool
    reason: Annotated[str, one_of(REASONS)]
    detail: Annotated[str, about("what holds it back, in a sentence")]
    next_eligible_at: Annotated[
        Time | None, about("when it stops holding; null if waiting doesn't help")
    ]


class EligibilityView(DecisionView):
    touchpoint: str


class DisplayView(TypedDict):
    touchpoint: Annotated[str | None, about("null: the touchpoint was removed since")]
    kind: Annotated[str, one_of(("shown", "dismissed"))]
    at: Time


class PersonView(TypedDict):
    id: str
    traits: dict[str, str]
    first_seen_at: Time | None
    last_seen_at: Time | None
    responses: list[RatingView]
    displays: list[DisplayView]


class ErasedView(TypedDict):
    person: str
    responses_removed: int
    impressions_removed: int


class Snippets(TypedDict):
    html: Annotated[str, about("a script tag that renders the widget where it stands")]
    mount: Annotated[str, about("the runtime and a mount call, for pages that render later")]


class MintedTokenView(TypedDict):
    token: str
    touchpoint: str
    subject: str
    expires_at: Time
    rating_url: Annotated[str, about("hosted page; add ?score=N for email links")]
    embed: Snippets


class CurrentRatingView(TypedDict):
    touchpoint: str
    subject: str
    expires_at: Time
    response: RatingView | None


class HealthView(TypedDict):
    status: Annotated[str, one_of(("ok", "failing"))]
    version: str
    touchpoints: int
    writer_queue: Annotated[int, about("writes waiting for their commit")]
    error: NotRequired[Annotated[str, about("why ratings can't be committed now")]]


class ProblemView(TypedDict):
    """RFC 9457 problem details, with the error's code and the field at fault."""

    type: str
    title: str
    status: int
    code: Annotated[str, about("stable, for programs (docs/api.md: What each error means)")]
    detail: Annotated[str, about("for people: what was wrong and how to fix it")]
    field: NotRequired[Annotated[str, about("the field, parameter or header at fault")]]


class ResponsePageView(TypedDict):
    touchpoint: str
    responses: list[RatingView]
    next_cursor: Annotated[str | None, about("pass as ?cursor= for the next page; null: last")]


Metric = Annotated[str, one_of(("csat", "nps"))]


class Interval(TypedDict):
    """95% interval of the score (Wilson for CSAT, a score test for NPS): null with no data."""

    low: float | None
    high: float | None
    level: float


class ShareView(TypedDict):
    count: int
    percent: float | None


class Figures(TypedDict):
    """A distribution's figures (scoring.py): CSAT's or NPS's keys besides the shared ones."""

    metric: Metric
    responses: int
    score: Annotated[float | None, about("CSAT: percent satisfied; NPS: -100 to 100")]
    satisfied: NotRequired[Annotated[int, about("CSAT")]]
    satisfied_from: NotRequired[Annotated[int, about("CSAT: the lowest satisfied score")]]
    mean: NotRequired[Annotated[float | None, about("CSAT")]]
    promoters: NotRequired[Annotated[ShareView, about("NPS: 9-10")]]
    passives: NotRequired[Annotated[ShareView, about("NPS: 7-8")]]
    detractors: NotRequired[Annotated[ShareView, about("NPS: 0-6")]]
    distribution: Annotated[dict[str, int], about("responses per score, every point of the scale")]
    interval: Interval


class Rates(TypedDict):
    """How many impressions were answered (displays.py); null under filters they lack."""

    impressions: int | None
    answered_impressions: int | None
    response_rate: Annotated[float | None, about("answered impressions / impressions, in percent")]
    response_rate_reason: Annotated[str, one_of(RATE_REASONS)] | None


class TouchpointFields(TypedDict):
    """A touchpoint as stored (`Touchpoint.public()`, also `touchpoint show --json`)."""

    slug: str
    metric: Metric
    scale: Annotated[str, about("stars, smileys3, smileys5, thumbs, numeric:N or nps")]
    min: int
    max: int
    question: Annotated[str | None, about("null: the built-in wording in the visitor's language")]
    low_label: str | None
    high_label: str | None
    comment_prompt: str | None
    thank_you: str | None
    locale: Annotated[str | None, about("null: the visitor's language")]
    origins: Annotated[list[str], about("where the widget may be embedded; empty: anywhere")]
    satisfied_from: Annotated[int | None, about("CSAT: the lowest satisfied score")]
    cooldown_days: int
    active: bool
    comment_prompts: Annotated[dict[str, str | None], about("follow-up question per group")]
    brand_name: str | None
    brand_logo: str | None
    brand_accent: str | None
    recontact_days: int
    redisplay_days: int
    max_displays: int | None
    sample: Annotated[float, about("percent of people asked")]
    min_days_since_signup: int
    anniversary_window: int | None
    trigger: Annotated[str, about("load or event:NAME")]
    require_identity: bool
    ignore_global_throttle: bool


class TouchpointView(TouchpointFields):
    embed_token: str
    embed_url: Annotated[str, about("the widget's script URL, for one script tag")]


class WindowView(TypedDict):
    """The window a report covers; the optional filters only when asked for."""

    since: Time | None
    until: Time | None
    filters: Annotated[dict[str, str], about("context filters, key -> value")]
    min_score: NotRequired[int]
    max_score: NotRequired[int]
    has_comment: NotRequired[bool]
    tag: NotRequired[Annotated[str, about("only ratings carrying this tag")]]
    search: NotRequired[Annotated[list[str], about("words every comment contains")]]


class TouchpointScore(Figures, Rates):
    touchpoint: str


class ScoreView(TouchpointScore, WindowView):
    pass


class TagCounts(TypedDict):
    """Apart, so a bucket can be built from its parts (`**` of each) with or without it."""

    tags: NotRequired[Annotated[dict[str, int], about("with tags=true: ratings per tag")]]


class BucketView(Figures, Rates, TagCounts):
    start: Time
    end: Time


class SeriesView(WindowView):
    touchpoint: str
    metric: Metric
    interval: Annotated[str, one_of(INTERVALS)]
    tz: Annotated[str, about("the IANA time zone the buckets follow")]
    buckets: list[BucketView]


class GroupScore(Figures):
    value: Annotated[str, about("the context value or tag")]


class BreakdownView(WindowView):
    touchpoint: str
    by: str
    groups: Annotated[list[GroupScore], about("most responses first")]


class AllScoresView(WindowView):
    touchpoints: list[TouchpointScore]


# Component name -> view, in /openapi.json's components.
VIEWS: dict[str, type] = {
    "Problem": ProblemView,
    "Tag": TagView,
    "Issue": IssueView,
    "Response": RatingView,
    "Delivery": DeliveryView,
    "Digest": DigestView,
    "Rule": RuleView,
    "Destination": DestinationView,
    "MintedIdentity": MintedIdentityView,
    "Eligibility": EligibilityView,
    "PersonHistory": PersonView,
    "Erased": ErasedView,
    "MintedToken": MintedTokenView,
    "CurrentRating": CurrentRatingView,
    "Health": HealthView,
    "ResponsePage": ResponsePageView,
    "Touchpoint": TouchpointView,
    "Settings": SettingsView,
    "TestSend": TestSendView,
    "Backfilled": BackfillView,
    "Score": ScoreView,
    "TouchpointScore": TouchpointScore,
    "ScoreBucket": BucketView,
    "Series": SeriesView,
    "Breakdown": BreakdownView,
    "AllScores": AllScoresView,
}
_NAMES = {view: name for name, view in VIEWS.items()}
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema(view: type) -> Schema:
    """The JSON Schema of a view: its keys, their types, which are required."""
    hints = typing.get_type_hints(view, include_extras=True)
    properties = {}
    required = []
    for name, hint in hints.items():
        if typing.get_origin(hint) is NotRequired:
            (hint,) = typing.get_args(hint)
        else:
            required.append(name)
        properties[name] = _schema_of(hint)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _schema_of(hint: Any) -> Schema:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        inner, *extras = args
        found: Schema = _schema_of(inner)
        for extra in extras:
            if isinstance(extra, About):
                found = {**found, **extra.keywords}
                if extra.description:
                    found["description"] = extra.description
        return found
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        (inner,) = present
        return {"anyOf": [_schema_of(inner), {"type": "null"}]}
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(args[1])}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if hint in _NAMES:
        return {"$ref": f"#/components/schemas/{_NAMES[hint]}"}
    if typing.is_typeddict(hint):
        return schema(hint)
    raise TypeError(f"no JSON Schema for {hint!r}")
