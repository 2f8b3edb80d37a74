"""Request bodies as typed definitions: one source for decoding, checking and the OpenAPI schema.

Each body is a frozen dataclass. Its annotations say the JSON types of every
field (`str`, `int`, `float`, `list[str]`, `dict[str, str]`, `str | int`,
`| None` for null), a field without a default is required, and `about(...)`
in its metadata carries the field's description, the check that cleans it
(the rules of validation.py) and any extra JSON Schema keywords.
`Shape(cls).decode(body)` refuses unknown fields, missing ones and wrong types
with a 422 naming the field, runs the checks and returns the dataclass;
`given(body)` does the same for a change, returning only the fields it names;
`schema()` is what /openapi.json publishes, so the description can't drift
from what the server accepts. Two bodies live beside the checks they feed:
a rule's (`routing/rules.py`) and a touchpoint's settings (`touchpoints.py`).

The JSON text itself is read by api/body.py (strict UTF-8, no duplicate keys);
msgspec would decode and check in C, but it resolves duplicate keys by keeping
the last (msgspec#648) and reads `-0` as 0, both refused since the audit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from scorelet.dedup import check_client
from scorelet.errors import invalid
from scorelet.people import check_person, check_traits
from scorelet.routing.destinations import KINDS, LINEAR_KEY, LINEAR_TEAM, MAX_LABEL, MAX_LABELS
from scorelet.routing.periods import EVERY
from scorelet.routing.tags import TAG_PATTERN
from scorelet.timeutil import INSTANT_PATTERN, parse_instant
from scorelet.tokens import DURATION_PATTERN, MAX_TTL_SECONDS
from scorelet.validation import (
    LINE_PATTERN,
    MAX_COMMENT,
    MAX_CONTEXT_KEY,
    MAX_CONTEXT_KEYS,
    MAX_CONTEXT_VALUE,
    MAX_SUBJECT,
    NAME,
    SLUG,
    SUBJECT_PATTERN,
    TEXT_PATTERN,
    URL_PATTERN,
    check_context,
    check_name,
    check_optional_text,
    check_slug,
    check_subject,
    check_uuid,
    wrong_type,
)

T = TypeVar("T")
Check = Callable[[Any, str], Any]
_JSON_TYPES: dict[type, tuple[str, str]] = {
    str: ("string", "a string"),
    int: ("integer", "an integer"),
    float: ("number", "a number"),
    bool: ("boolean", "true or false"),
    dict: ("object", "an object of string values"),
    list: ("array", "a list"),
}


def about(
    description: str, check: Check | None = None, expects: str = "", **schema: Any
) -> dict[str, Any]:
    """Field metadata: what the field is, how it is cleaned, what a wrong type is told it
    must be (by default the JSON type's name), extra JSON Schema keywords."""
    return {"description": description, "check": check, "expects": expects, "schema": schema}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kinds: tuple[type, ...]  # `str | int`: either
    accepted: tuple[type, ...]  # the same for isinstance
    items: type | None  # a list's items: `list[str]`
    expects: str
    nullable: bool
    required: bool
    description: str
    check: Check | None
    schema: Mapping[str, Any]


def _kinds(hint: Any) -> tuple[tuple[type, ...], bool]:
    """The JSON types behind an annotation, and whether null is allowed."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = tuple(kind for arg in args if arg is not type(None) for kind in _kinds(arg)[0])
        return kinds, type(None) in args
    origin = typing.get_origin(hint) or hint
    if origin not in _JSON_TYPES:
        raise TypeError(f"no JSON type for {hint!r}")
    return (origin,), False


def _items(hint: Any) -> type | None:
    """The item type of a `list[...]` annotation (also inside `| None`)."""
    for arg in (hint, *typing.get_args(hint)):
        if typing.get_origin(arg) is list:
            item: type = typing.get_args(arg)[0]
            return item
    return None


def _python_types(kinds: tuple[type, ...]) -> tuple[type, ...]:
    """What isinstance takes for JSON types: an integer is a number too (and true and
    false, Python ints, are refused apart)."""
    return (*kinds, int) if float in kinds else kinds


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and (kind is bool or value.__class__ is not bool)


class Shape(Generic[T]):
    def __init__(self, cls: type[T], name: str, *, partial: bool = False) -> None:
        """`partial`: a change, read by `given` only; no field is required, none defaulted."""
        self.cls = cls
        self.name = name
        hints = typing.get_type_hints(cls)
        fields = []
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            kinds, nullable = _kinds(hints[spec.name])
            items = _items(hints[spec.name])
            meta = spec.metadata
            defaults = (spec.default, spec.default_factory)
            required = not partial and all(default is dataclasses.MISSING for default in defaults)
            names = " or ".join(_JSON_TYPES[kind][1] for kind in kinds)
            if items is not None:
                names = f"a list of {_JSON_TYPES[items][0]}s"
            fields.append(
                _Field(
                    spec.name,
                    kinds,
                    _python_types(kinds),
                    items,
                    meta.get("expects") or names,
                    nullable,
                    required,
                    meta.get("description", ""),
                    meta.get("check"),
                    meta.get("schema", {}),
                )
            )
        self._fields = tuple(fields)
        self._names = frozenset(f.name for f in fields)

    def check_names(self, body: Mapping[str, Any]) -> None:
        """Refuse unknown fields, so a typo like `scroe` fails loudly instead of vanishing."""
        for name in body:
            if name not in self._names:
                text = str(name)[:64]
                raise invalid(text, f"unknown field {text!r}", "unknown_field")

    def decode(self, body: Mapping[str, Any]) -> T:
        """The body as `cls`, or a 422 naming the first field at fault."""
        return self.cls(**self._read(body, partial=False))

    def given(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The fields a change gives, each checked; a field left out stays as it is, and
        null (where the field takes it) clears it."""
        return self._read(body, partial=True)

    def _read(self, body: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        """Every field's checked value (None when left out), or only those a change gives.
        On the ingest path (a rating's body), so the type test is written out here."""
        self.check_names(body)
        values: dict[str, Any] = {}
        for spec in self._fields:
            if partial and spec.name not in body:
                continue
            value: Any = body.get(spec.name)
            if value is None:
                if spec.required and (spec.name not in body or not spec.nullable):
                    hint = " (null clears it)" if spec.nullable else ""
                    raise invalid(spec.name, f"{spec.name} is required{hint}", "missing_field")
                if not spec.nullable and spec.name in body:
                    raise wrong_type(spec.name, spec.expects)
                values[spec.name] = None
                continue
            wrong = not isinstance(value, spec.accepted) or (
                value.__class__ is bool and bool not in spec.kinds
            )
            if wrong or (spec.items is not None and not all(_is(i, spec.items) for i in value)):
                raise wrong_type(spec.name, spec.expects)
            values[spec.name] = spec.check(value, spec.name) if spec.check else value
        return values

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the body, for /openapi.json."""
        properties: dict[str, Any] = {}
        for spec in self._fields:
            json_types = [_JSON_TYPES[kind][0] for kind in spec.kinds] + ["null"] * spec.nullable
            prop: dict[str, Any] = {"type": json_types[0] if len(json_types) == 1 else json_types}
            prop |= spec.schema
            if spec.items is not None:
                prop["items"] = {"type": _JSON_TYPES[spec.items][0], **spec.schema.get("items", {})}
            if spec.description:
                prop["description"] = spec.description
            properties[spec.name] = prop
        return {
            "type": "object",
            "properties": properties,
            "required": [spec.name for spec in self._fields if spec.required],
            "additionalProperties": False,
        }


def _comment(value: Any, name: str) -> str | None:
    return check_optional_text(value, name, MAX_COMMENT, multiline=True)


IDENTITY = (
    "the signed-in person's identity token (i.…) from your backend: their traits join the"
    " rating's context, and when-to-ask rules count per person"
)
CONTEXT_SCHEMA: dict[str, Any] = {
    "maxProperties": MAX_CONTEXT_KEYS,
    "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$", "maxLength": MAX_CONTEXT_KEY},
    "additionalProperties": {
        "type": "string",
        "maxLength": MAX_CONTEXT_VALUE,
        "pattern": LINE_PATTERN,
    },
}


@dataclass(frozen=True, slots=True)
class Submission:
    """`POST /api/v1/responses`: a rating."""

    token: str = field(metadata=about("the touchpoint's embed token or a subject token"))
    score: int = field(metadata=about("a point on the touchpoint's scale (stars 1-5, NPS 0-10)"))
    comment: str | None = field(
        default=None,
        metadata=about(
            "an optional comment", _comment, maxLength=MAX_COMMENT, pattern=TEXT_PATTERN
        ),
    )
    context: dict[str, str] | None = field(
        default=None,
        metadata=about(
            'embed tokens only: page context such as {"plan": "pro"}; a subject token\'s'
            " context is signed into it",
            check_context,
            **CONTEXT_SCHEMA,
        ),
    )
    id: str | None = field(
        default=None,
        metadata=about(
            "a UUID chosen by the client: posting it again replaces the rating",
            check_uuid,
            format="uuid",
        ),
    )
    client: str | None = field(
        default=None,
        metadata=about(
            "a random id kept by the browser: its next rating replaces this one",
            check_client,
            pattern="^[A-Za-z0-9_-]{16,64}$",
        ),
    )
    shown: bool | None = field(
        default=None,
        metadata=about(
            "true when the widget that sends it had counted its impression: the rating then"
            " counts toward the response rate"
        ),
    )
    identity: str | None = field(default=None, metadata=about(IDENTITY))


@dataclass(frozen=True, slots=True)
class CommentEdit:
    """`PATCH /api/v1/responses/{id}`: the comment after the score."""

    token: str = field(metadata=about("the token the rating was given with"))
    comment: str | None = field(
        metadata=about(
            "the comment; null clears it", _comment, maxLength=MAX_COMMENT, pattern=TEXT_PATTERN
        )
    )


@dataclass(frozen=True, slots=True)
class Impression:
    """`POST /api/v1/impressions` (the widget was shown) and `POST /api/v1/dismissals`
    (it was closed)."""

    token: str = field(metadata=about("the touchpoint's embed token or a subject token"))
    identity: str | None = field(default=None, metadata=about(IDENTITY))


def _traits(value: Any, name: str) -> dict[str, str]:
    return check_traits(value, name)


def _person(value: Any, name: str) -> str:
    return check_person(value, name)


@dataclass(frozen=True, slots=True)
class NewIdentity:
    """`POST /api/v1/identities`: an identity token for a signed-in person."""

    person: str = field(
        metadata=about(
            "your own id of the person, e.g. user_1234",
            _person,
            maxLength=MAX_SUBJECT,
            pattern=SUBJECT_PATTERN,
        )
    )
    traits: dict[str, str] | None = field(
        default=None,
        metadata=about(
            'signed traits, e.g. {"plan": "pro", "signed_up_at": "2026-01-31",'
            ' "timezone": "Europe/Berlin"}: stored as context on the person\'s ratings',
            _traits,
            **CONTEXT_SCHEMA,
        ),
    )
    ttl: str | None = field(
        default=None,
        metadata=about(
            "lifetime: 1h, 30m, 1d (default) or seconds; at most 366d",
            pattern=DURATION_PATTERN,
        ),
    )


@dataclass(frozen=True, slots=True)
class NewToken:
    """`POST /api/v1/tokens`: a subject token for a conversation, ticket or order."""

    touchpoint: str = field(
        metadata=about("the touchpoint's slug", check_slug, pattern=SLUG.pattern)
    )
    subject: str = field(
        metadata=about(
            "the conversation, ticket or order rated",
            check_subject,
            maxLength=MAX_SUBJECT,
            pattern=SUBJECT_PATTERN,
        )
    )
    context: dict[str, str] | None = field(
        default=None,
        metadata=about(
            'signed into the token, e.g. {"agent": "sam"}', check_context, **CONTEXT_SCHEMA
        ),
    )
    ttl: str | int | None = field(
        default=None,
        metadata=about(
            "lifetime: 14d, 12h, 30m or seconds (default 7d, at most 366d)",
            expects="a duration such as 14d, or seconds as an integer",
            pattern=DURATION_PATTERN,
            minimum=1,
            maximum=MAX_TTL_SECONDS,
        ),
    )


def _instant(value: str, name: str) -> str:
    try:
        parse_instant(value)
    except ValueError as error:
        raise invalid(name, f"{name}: {error}") from None
    return value


@dataclass(frozen=True, slots=True)
class Backfill:
    """`POST /api/v1/rules/{name}/backfill`: which stored ratings a tagging rule looks at."""

    since: str | None = field(
        default=None,
        metadata=about(
            "only ratings since then; null or left out: all of them",
            _instant,
            expects="ISO 8601 or epoch seconds",
            pattern=INSTANT_PATTERN,
        ),
    )


@dataclass(frozen=True, slots=True)
class TagBody:
    """`POST` and `DELETE /api/v1/responses/{id}/tags`: one tag."""

    tag: str = field(
        metadata=about(
            "letters, digits, spaces and - _ . & / + #, e.g. Billing", pattern=TAG_PATTERN
        )
    )


# A rule's, destination's or digest's name (the three bodies share it).
NAME_FIELD = about("1-64 lowercase letters, digits, - or _", check_name, pattern=NAME.pattern)


@dataclass(frozen=True, slots=True)
class NewDigest:
    """`POST /api/v1/digests` and `scorelet digest add`: every touchpoint's score, once a
    period; `at` is checked with `every` (periods.parse_at)."""

    name: str = field(metadata=NAME_FIELD)
    destination: str = field(metadata=about("the destination it is sent to", pattern=NAME.pattern))
    every: str | None = field(
        default=None, metadata=about("week (the default), month or quarter", enum=[*EVERY, None])
    )
    at: str | None = field(
        default=None,
        metadata=about(
            'when in the period: "mon 09:00" for weeks (the default), "09:00" otherwise'
        ),
    )
    tz: str | None = field(
        default=None,
        metadata=about(
            "the time zone periods and times are in (default UTC)",
            anyOf=[{"$ref": "#/components/schemas/TimeZone"}, {"type": "null"}],
        ),
    )
    touchpoints: list[str] | None = field(
        default=None,
        metadata=about(
            "only these touchpoints; left out: every one",
            expects="a list of slugs",
            items={"type": "string", "pattern": SLUG.pattern},
        ),
    )


@dataclass(frozen=True, slots=True)
class DestinationBody:
    """`POST /api/v1/destinations` and `scorelet destination add`: which fields each type
    takes, and what they may hold, routing.destinations.parse_destination checks."""

    name: str = field(metadata=NAME_FIELD)
    type: str = field(metadata=about("slack, webhook or linear", enum=list(KINDS)))
    url: str | None = field(
        default=None,
        metadata=about("Slack's incoming webhook or the receiver's URL", pattern=URL_PATTERN),
    )
    api_key: str | None = field(
        default=None,
        metadata=about("Linear: a personal API key", pattern=LINEAR_KEY.pattern),
    )
    team: str | None = field(
        default=None, metadata=about("Linear: the team's id", pattern=LINEAR_TEAM.pattern)
    )
    priority: int | None = field(
        default=None,
        metadata=about("Linear: 0 none, 1 urgent, 2 high, 3 medium, 4 low", minimum=0, maximum=4),
    )
    labels: list[str] | None = field(
        default=None,
        metadata=about(
            "Linear: label names for the issues",
            expects="a list of label names",
            maxItems=MAX_LABELS,
            items={"type": "string", "minLength": 1, "maxLength": MAX_LABEL},
        ),
    )
    api_url: str | None = field(
        default=None,
        metadata=about("Linear: the GraphQL endpoint (default Linear's)", pattern=URL_PATTERN),
    )


MAX_RETRY = 1000


def _delivery_ids(value: list[str], name: str) -> list[str]:
    if not 1 <= len(value) <= MAX_RETRY:
        raise invalid(name, f"{name} must be a list of 1-{MAX_RETRY} delivery ids", "out_of_range")
    return [check_uuid(item, name) for item in value]


@dataclass(frozen=True, slots=True)
class Retry:
    """`POST /api/v1/deliveries/retry`: `{"ids": [...]}` or `{"all_dead": true}`."""

    ids: list[str] | None = field(
        default=None,
        metadata=about(
            "the deliveries to send again now",
            _delivery_ids,
            expects="a list of delivery ids",
            minItems=1,
            maxItems=300,  # what fits the default body limit
            items={"format": "uuid"},
        ),
    )
    all_dead: bool | None = field(
        default=None, metadata=about("true: every delivery that gave up, instead")
    )


SUBMISSION = Shape(Submission, "NewResponse")
COMMENT_EDIT = Shape(CommentEdit, "CommentUpdate")
IMPRESSION = Shape(Impression, "Display")
NEW_IDENTITY = Shape(NewIdentity, "NewIdentity")
NEW_TOKEN = Shape(NewToken, "NewToken")
BACKFILL = Shape(Backfill, "Backfill")
TAG_BODY = Shape(TagBody, "TagBody")
NEW_DIGEST = Shape(NewDigest, "NewDigest")
NEW_DESTINATION = Shape(DestinationBody, "NewDestination")
RETRY = Shape(Retry, "Retry")
SHAPES = (SUBMISSION, COMMENT_EDIT, IMPRESSION, NEW_IDENTITY, NEW_TOKEN, BACKFILL, TAG_BODY)
