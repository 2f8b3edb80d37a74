"""The OpenAPI 3.1 description served at /openapi.json.

Every JSON body comes from the typed definition its handler decodes with
(shapes.py, and the rule and touchpoint-settings bodies beside their checks),
every JSON answer from the view its encoder is typed to return (views.py).
Written here: the paths, their parameters, and what a JSON Schema says with
`oneOf` about fields checked together (a scale's satisfied_from, a rule's one
action, a digest's `at`, which fields a destination type takes). Tests keep
it honest: every route is here, and schemathesis runs every check.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from scorelet import __version__
from scorelet.api.listing import CURSOR
from scorelet.eligibility import EVENT_NAME, GLOBAL_SETTINGS
from scorelet.routing.destinations import LINEAR_ONLY
from scorelet.routing.messages import PAYLOAD_SCHEMA
from scorelet.routing.periods import WEEKDAYS
from scorelet.routing.rules import RULE_BODY
from scorelet.routing.tags import TAG_PATTERN
from scorelet.scales import HIGHEST_SCORE, LOWEST_SCORE, csat_scales
from scorelet.shapes import CONTEXT_SCHEMA, NEW_DESTINATION, NEW_DIGEST, RETRY, SHAPES
from scorelet.timeutil import INSTANT_PATTERN
from scorelet.touchpoints import GROUPS
from scorelet.touchpoints import SETTINGS as TOUCHPOINT_SETTINGS
from scorelet.validation import (
    LINE_PATTERN,
    MAX_CONTEXT_VALUE,
    MAX_SUBJECT,
    SUBJECT_PATTERN,
    TEXT_PATTERN,
)
from scorelet.validation import SLUG as SLUG_RULE
from scorelet.views import VIEWS
from scorelet.views import schema as view_schema

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
    }


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
# What the server's checks accept, as patterns, so a client (or a fuzzer) can know ahead.
SLUG_PATTERN = SLUG_RULE.pattern
INSTANT = {"type": "string", "pattern": INSTANT_PATTERN}
TAG = {
    "type": "string",
    "pattern": TAG_PATTERN,
    "description": "letters, digits, spaces and - _ . & / + #, e.g. Billing",
}
CONTEXT_KEY = {"type": "string", **CONTEXT_SCHEMA["propertyNames"]}
SUBJECT = {"type": "string", "maxLength": MAX_SUBJECT, "pattern": SUBJECT_PATTERN}
TIME_ZONE = ref("TimeZone")  # the ~600 names once, in components


# What a touchpoint's settings may be (touchpoints.TouchpointSettings), as published.
SETTINGS: dict[str, Schema] = TOUCHPOINT_SETTINGS.schema()["properties"]


def new_touchpoint() -> Schema:
    """A new touchpoint: which scales, prompt groups and satisfied_from each metric takes
    come from the scale rules (scales.py), one branch per scale."""
    scale = {
        **STRING,
        "description": "stars (default), smileys, smileys3, numeric:N (3-10); nps for NPS",
    }
    nps = obj(
        {
            "metric": {"const": "nps"},
            "scale": {"enum": ["nps", None]},
            "satisfied_from": {"type": "null"},
            "comment_prompts": {"type": "object", "propertyNames": {"enum": list(GROUPS["nps"])}},
        },
        ["metric"],
    )
    csat = [
        obj(
            {
                "metric": {"const": "csat"},
                "scale": {"enum": [each.name, None] if each.name == "stars" else [each.name]},
                "satisfied_from": nullable(
                    {**INTEGER, "minimum": each.low + 1, "maximum": each.high}
                ),
                "comment_prompts": {
                    "type": "object",
                    "propertyNames": {"enum": list(GROUPS["csat"])},
                },
            },
            ["metric"] if each.name == "stars" else ["metric", "scale"],
        )
        for each in csat_scales()
    ]
    return {
        **obj(
            {
                **SETTINGS,
                "slug": {**STRING, "pattern": SLUG_PATTERN},
                "metric": {"enum": ["csat", "nps"]},
                "scale": nullable(scale),
            },
            ["slug", "metric"],
        ),
        "additionalProperties": False,
        "oneOf": [nps, *csat],
    }


SCHEMAS: dict[str, Schema] = {
    "TimeZone": {"enum": sorted(zoneinfo.available_timezones()), "description": "an IANA name"},
    # The request bodies from their typed definitions, the answers from their views.
    **{shape.name: shape.schema() for shape in SHAPES},
    **{name: view_schema(view) for name, view in VIEWS.items()},
    # What update_settings accepts: any of the settings, each in its range.
    "SettingsUpdate": {
        **obj(
            {
                name: {**INTEGER, "minimum": low, "maximum": high}
                for name, (low, high) in GLOBAL_SETTINGS.items()
            },
            [],
        ),
        "additionalProperties": False,
    },
    "TouchpointSettings": TOUCHPOINT_SETTINGS.schema(),
    "NewTouchpoint": new_touchpoint(),
    "TouchpointUpdate": {
        **obj({**SETTINGS, "rotate_token": {"type": "boolean"}}, []),
        "additionalProperties": False,
    },
}


RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before trying again", "schema": INTEGER}
}


def problems(*statuses: int) -> dict[str, Any]:
    content = {"application/problem+json": {"schema": ref("Problem")}}
    answers: dict[str, Any] = {}
    for status in statuses:
        answers[str(status)] = {"description": "problem details", "content": content}
        if status in (429, 503):
            answers[str(status)]["headers"] = RETRY_AFTER
    return answers


def json_body(schema: str, *, plain: bool = False) -> dict[str, Any]:
    content = {"application/json": {"schema": ref(schema)}}
    if plain:
        content["text/plain"] = {"schema": ref(schema)}
    return {"required": True, "content": content}


def ok(status: int, schema: str | None, description: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema:
        answer["content"] = {"application/json": {"schema": ref(schema)}}
    return {str(status): answer}


SLUG = {"name": "slug", "in": "path", "required": True, "schema": STRING}
# A rating's id (a UUID in its 36-character form).
ID_PATH = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 1000}
SCORE_BOUND = {"type": "integer", "minimum": LOWEST_SCORE, "maximum": HIGHEST_SCORE}
WINDOW = [
    {
        "name": "since",
        "in": "query",
        "schema": INSTANT,
        "description": "from this instant: ISO 8601 or epoch seconds (inclusive)",
    },
    {
        "name": "until",
        "in": "query",
        "schema": INSTANT,
        "description": "before this instant: ISO 8601 or epoch seconds (exclusive)",
    },
]
TAG_FILTER = {
    "name": "tag",
    "in": "query",
    "schema": TAG,
    "description": "only ratings carrying this tag, e.g. tag=Billing",
}
CONTEXT_FILTERS = {
    "name": "filters",
    "in": "query",
    "style": "form",
    "explode": True,
    "schema": {
        "type": "object",
        "propertyNames": CONTEXT_KEY,
        "additionalProperties": {**STRING, "maxLength": MAX_CONTEXT_VALUE, "pattern": LINE_PATTERN},
    },
    "description": "any other parameter filters by context, e.g. agent=alice",
}
RATING_FILTERS = [
    {"name": "min_score", "in": "query", "schema": SCORE_BOUND, "description": "lowest score"},
    {"name": "max_score", "in": "query", "schema": SCORE_BOUND, "description": "highest score"},
    {
        "name": "has_comment",
        "in": "query",
        "schema": {"enum": ["true", "false"]},
        "description": "only ratings with (true) or without (false) a comment",
    },
]
READ: list[Schema] = [{"apiKey": []}]  # the scope needed is in each summary
ADMIN = READ
AUTH_ERRORS = (401, 403)
SCRIPT = {"description": "JavaScript", "content": {"text/javascript": {"schema": STRING}}}
TOKEN_PATH = {"name": "token", "in": "path", "required": True, "schema": STRING}
HASH_PATH = {"name": "hash", "in": "path", "required": True, "schema": STRING}


def html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": STRING}}}


def chat_paths() -> dict[str, Any]:
    """Subject tokens, a conversation's own rating, and the hosted rating page."""
    return {
        "/api/v1/tokens": {
            "post": {
                "summary": "Mint a subject token for one conversation (mint key)",
                "security": READ,
                "requestBody": json_body("NewToken"),
                "responses": {
                    **ok(201, "MintedToken", "the token, its hosted-page URL and embed snippets"),
                    **problems(400, *AUTH_ERRORS, 404, 413, 415, 422),
                },
            }
        },
        "/api/v1/responses/current": {
            "get": {
                "summary": "The rating of the subject token's own conversation, or null",
                "parameters": [
                    {"name": "token", "in": "query", "required": True, "schema": STRING}
                ],
                "responses": {
                    **ok(200, "CurrentRating", "the current rating (response is null if none)"),
                    **problems(403, 404, 422),
                },
            }
        },
        "/r/{token}": {
            "get": {
                "summary": "Hosted rating page; ?score=N preselects a score (a GET never records)",
                "parameters": [
                    TOKEN_PATH,
                    {"name": "score", "in": "query", "required": False, "schema": SCORE_BOUND},
                ],
                "responses": {
                    "200": html("the rating page, or the confirm step for ?score=N"),
                    "400": html("the score is not on the touchpoint's scale"),
                    "403": html("the touchpoint is paused"),
                    "404": html("the link is not a valid rating link"),
                    "410": html("the link has expired"),
                },
            },
            "post": {
                "summary": "Save the score (form field score) or the comment (fields id, comment)",
                "parameters": [TOKEN_PATH],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                **obj(
                                    {
                                        "score": SCORE_BOUND,
                                        "comment": {**STRING, "pattern": TEXT_PATTERN},
                                        "id": {**STRING, "format": "uuid"},
                                    },
                                    [],
                                ),
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": html("saved: the thank-you page with the comment box"),
                    "400": html("the form was incomplete or the score off the scale"),
                    "403": html("the touchpoint is paused"),
                    "404": html("the link is not a valid rating link"),
                    "410": html("the link has expired"),
                },
            },
        },
        "/hosted.{hash}.css": {
            "get": {
                "summary": "The hosted page's stylesheet at its content-hashed URL",
                "parameters": [HASH_PATH],
                "responses": {
                    "200": {"description": "CSS", "content": {"text/css": {"schema": STRING}}},
                    "304": {"description": "not modified"},
                    **problems(404),
                },
            }
        },
        "/hosted.{hash}.js": {
            "get": {
                "summary": "The hosted page's script at its content-hashed URL",
                "parameters": [HASH_PATH],
                "responses": {
                    "200": SCRIPT,
                    "304": {"description": "not modified"},
                    **problems(404),
                },
            }
        },
    }


NOT_MODIFIED = {"304": {"description": "not modified: the ETag in If-None-Match still holds"}}


def query(name: str, description: str, schema: Schema = STRING) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def polled(schema: str, description: str, *statuses: int) -> dict[str, Any]:
    return {**ok(200, schema, description), **NOT_MODIFIED, **problems(*statuses)}


def polling_paths() -> dict[str, Any]:
    """Series, breakdowns, listings, all scores at once, the event stream and /metrics."""
    errors = (400, *AUTH_ERRORS, 404)
    return {
        "/api/v1/touchpoints/{slug}/series": {
            "get": {
                "summary": "One score per day, week or month, aligned to a time zone (read key)",
                "security": READ,
                "parameters": [
                    SLUG,
                    query(
                        "interval",
                        "day (default), week or month",
                        {"enum": ["day", "week", "month"]},
                    ),
                    query("tz", "IANA time zone for bucket edges, default UTC", TIME_ZONE),
                    query(
                        "tags",
                        "true: each bucket counts its ratings per tag",
                        {"enum": ["true", "false"]},
                    ),
                    *WINDOW,
                    TAG_FILTER,
                    *RATING_FILTERS,
                    CONTEXT_FILTERS,
                ],
                "responses": polled("Series", "the buckets, empty ones included", *errors),
            }
        },
        "/api/v1/touchpoints/{slug}/breakdown": {
            "get": {
                "summary": "Score per value of a context key, e.g. by=agent (read key)",
                "security": READ,
                "parameters": [
                    SLUG,
                    query("by", "the context key to group by, or tag", CONTEXT_KEY)
                    | {"required": True},
                    *WINDOW,
                    TAG_FILTER,
                    *RATING_FILTERS,
                    CONTEXT_FILTERS,
                ],
                "responses": polled("Breakdown", "groups, most responses first", *errors),
            }
        },
        "/api/v1/touchpoints/{slug}/responses": {
            "get": {
                "summary": "Responses, newest first, by cursor; or all as CSV/NDJSON (read key)",
                "security": READ,
                "parameters": [
                    SLUG,
                    query("limit", "page size, 1-1000 (default 50)", LIMIT),
                    query(
                        "cursor",
                        "next_cursor from the previous page",
                        {**STRING, "pattern": CURSOR.pattern},
                    ),
                    query("min_score", "lowest score", SCORE_BOUND),
                    query("max_score", "highest score", SCORE_BOUND),
                    query("has_comment", "true or false", {"enum": ["true", "false"]}),
                    query("subject", "one subject's rating, e.g. a conversation id", SUBJECT),
                    query(
                        "group",
                        "one group of scores: promoter, passive, detractor (NPS);"
                        " high, neutral, low (CSAT)",
                    ),
                    query(
                        "format",
                        "json (default), csv or ndjson",
                        {"enum": ["json", "csv", "ndjson"]},
                    ),
                    *WINDOW,
                    TAG_FILTER,
                    CONTEXT_FILTERS,
                ],
                "responses": {
                    "200": {
                        "description": "a page (JSON) or every match (CSV/NDJSON, streamed)",
                        "content": {
                            "application/json": {"schema": ref("ResponsePage")},
                            "text/csv": {"schema": STRING},
                            "application/x-ndjson": {"schema": STRING},
                        },
                    },
                    **NOT_MODIFIED,
                    **problems(*errors),
                },
            }
        },
        "/api/v1/scores": {
            "get": {
                "summary": "Every touchpoint's score in one call (read key)",
                "security": READ,
                "parameters": [*WINDOW, CONTEXT_FILTERS],
                "responses": polled("AllScores", "one score per touchpoint", 400, *AUTH_ERRORS),
            }
        },
        "/api/v1/stream": {
            "get": {
                "summary": "Server-sent events: new scores within a second (read key)",
                "security": READ,
                "parameters": [
                    query("touchpoints", "comma-separated slugs (default: all)"),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "schema": STRING,
                        "description": "resume: scores changed since this event are sent first",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "`score` events whose data is a Score",
                        "content": {"text/event-stream": {"schema": STRING}},
                    },
                    **problems(400, *AUTH_ERRORS),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: scores and server health (read key or token)",
                "security": READ,
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": STRING}},
                    },
                    **problems(*AUTH_ERRORS),
                },
            }
        },
    }


def people_paths() -> dict[str, Any]:
    """Identity tokens, when to ask, a person's history and erasure, settings."""
    person = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": SUBJECT,
    }
    return {
        "/api/v1/identities": {
            "post": {
                "summary": "Mint an identity token for a signed-in person (mint key)",
                "security": READ,
                "requestBody": json_body("NewIdentity"),
                "responses": {
                    **ok(201, "MintedIdentity", "the token and when it expires"),
                    **problems(400, *AUTH_ERRORS, 413, 415, 422),
                },
            }
        },
        "/api/v1/eligibility": {
            "get": {
                "summary": "Whether the widget shows to this person now, and why not",
                "parameters": [
                    query("token", "the touchpoint's embed or subject token") | {"required": True},
                    query("identity", "the person's identity token (none: anonymous)"),
                    query(
                        "event",
                        "the event the page tracked, for --trigger event:NAME",
                        {**STRING, "pattern": EVENT_NAME.pattern},
                    ),
                ],
                "responses": {
                    **ok(200, "Eligibility", "the decision"),
                    **problems(400, 403, 404, 422),
                },
            }
        },
        "/api/v1/people/{id}": {
            "get": {
                "summary": "A person's traits, ratings and displays across touchpoints (read key)",
                "security": READ,
                "parameters": [person],
                "responses": {
                    **ok(200, "PersonHistory", "everything stored about the person"),
                    **problems(400, *AUTH_ERRORS, 404),
                },
            },
            "delete": {
                "summary": "Erase a person: ratings, displays, traits, everywhere (admin key)",
                "security": ADMIN,
                "parameters": [person],
                "responses": {
                    **ok(200, "Erased", "erased; every score leaves them out"),
                    **problems(400, *AUTH_ERRORS, 503),
                },
            },
        },
        "/api/v1/settings": {
            "get": {
                "summary": "Install-wide settings (read key)",
                "security": READ,
                "responses": {**ok(200, "Settings", "every setting"), **problems(*AUTH_ERRORS)},
            },
            "patch": {
                "summary": "Change install-wide settings, e.g. the global throttle (admin key)",
                "security": ADMIN,
                "requestBody": json_body("SettingsUpdate"),
                "responses": {
                    **ok(200, "Settings", "every setting, changed"),
                    **problems(400, *AUTH_ERRORS, 413, 415, 422),
                },
            },
        },
    }


def paths() -> dict[str, Any]:
    return {
        "/api/v1/responses": {
            "post": {
                "summary": "Submit a rating (public: authorised by the embed or subject token)",
                "requestBody": json_body("NewResponse", plain=True),
                "responses": {
                    **ok(201, "Response", "stored and committed"),
                    **ok(200, "Response", "an earlier rating (same id or subject) was replaced"),
                    **problems(400, 403, 404, 408, 409, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/responses/{id}": {
            "patch": {
                "summary": "Add, change or clear the comment of a rating",
                "parameters": [ID_PATH],
                "requestBody": json_body("CommentUpdate", plain=True),
                "responses": {
                    **ok(200, "Response", "updated"),
                    **problems(400, 403, 404, 408, 409, 413, 415, 422, 429, 503),
                },
            },
            "get": {
                "summary": "One rating by its id (read key)",
                "security": READ,
                "parameters": [ID_PATH],
                "responses": {
                    **ok(200, "Response", "the rating"),
                    **problems(401, 403, 404, 422),
                },
            },
            "delete": {
                "summary": "Delete a rating (a test or spam one) from every figure (admin key)",
                "security": ADMIN,
                "parameters": [ID_PATH],
                "responses": {
                    "204": {"description": "deleted"},
                    **problems(401, 403, 404, 422, 503),
                },
            },
        },
        "/api/v1/impressions": {
            "post": {
                "summary": "Count one display of the widget",
                "requestBody": json_body("Display", plain=True),
                "responses": {
                    **ok(204, None, "counted"),
                    **problems(400, 403, 404, 408, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/dismissals": {
            "post": {
                "summary": "The widget was closed: kept per person (never an answer)",
                "requestBody": json_body("Display", plain=True),
                "responses": {
                    **ok(204, None, "kept (or nothing to keep: no identity)"),
                    **problems(400, 403, 404, 408, 413, 415, 422, 429, 503),
                },
            }
        },
        **people_paths(),
        "/api/v1/touchpoints": {
            "get": {
                "summary": "List touchpoints (read key)",
                "security": READ,
                "responses": {
                    "200": {
                        "description": "all touchpoints",
                        "content": {
                            "application/json": {
                                "schema": obj(
                                    {"touchpoints": {"type": "array", "items": ref("Touchpoint")}}
                                )
                            }
                        },
                    },
                    **NOT_MODIFIED,
                    **problems(*AUTH_ERRORS),
                },
            },
            "post": {
                "summary": "Create a touchpoint (admin key)",
                "security": ADMIN,
                "requestBody": json_body("NewTouchpoint"),
                "responses": {
                    **ok(201, "Touchpoint", "created"),
                    **problems(400, *AUTH_ERRORS, 409, 413, 415, 422),
                },
            },
        },
        "/api/v1/touchpoints/{slug}": {
            "get": {
                "summary": "Show a touchpoint (read key)",
                "security": READ,
                "parameters": [SLUG],
                "responses": {
                    **ok(200, "Touchpoint", "the touchpoint"),
                    **NOT_MODIFIED,
                    **problems(*AUTH_ERRORS, 404),
                },
            },
            "patch": {
                "summary": "Change a touchpoint's settings or revoke its embed token (admin key)",
                "security": ADMIN,
                "parameters": [SLUG],
                "requestBody": json_body("TouchpointUpdate"),
                "responses": {
                    **ok(200, "Touchpoint", "updated"),
                    **problems(400, *AUTH_ERRORS, 404, 413, 415, 422),
                },
            },
            "delete": {
                "summary": "Delete a touchpoint and all its responses (admin key)",
                "security": ADMIN,
                "parameters": [SLUG],
                "responses": {**ok(204, None, "deleted"), **problems(*AUTH_ERRORS, 404)},
            },
        },
        "/api/v1/touchpoints/{slug}/score": {
            "get": {
                "summary": "CSAT or NPS with count, interval and distribution (read key)",
                "security": READ,
                "parameters": [SLUG, *WINDOW, TAG_FILTER, *RATING_FILTERS, CONTEXT_FILTERS],
                "responses": {
                    **ok(200, "Score", "the score"),
                    **NOT_MODIFIED,
                    **problems(400, *AUTH_ERRORS, 404),
                },
            }
        },
        "/s/{token}.js": {
            "get": {
                "summary": "The script tag's loader for one touchpoint",
                "parameters": [{"name": "token", "in": "path", "required": True, "schema": STRING}],
                "responses": {
                    "200": {
                        **SCRIPT,
                        "description": "JavaScript (renders nothing for a bad token)",
                    },
                    "304": {"description": "not modified"},
                },
            }
        },
        "/widget.js": {
            "get": {
                "summary": "The widget runtime, for pages that call Scorelet.mount themselves",
                "responses": {"200": SCRIPT, "304": {"description": "not modified"}},
            }
        },
        "/widget.{hash}.js": {
            "get": {
                "summary": "The widget runtime at its content-hashed, cache-forever URL",
                "parameters": [{"name": "hash", "in": "path", "required": True, "schema": STRING}],
                "responses": {
                    "200": SCRIPT,
                    "304": {"description": "not modified"},
                    **problems(404),
                },
            }
        },
        **chat_paths(),
        **polling_paths(),
        **routing_paths(),
        "/": {
            "get": {
                "summary": "Demo widgets on a fresh install (HTML); else a pointer to this API",
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": STRING}}}
                },
            }
        },
        "/demo/scores": {
            "get": {
                "summary": "The demo page's score lines, so it updates as you rate",
                "responses": {
                    "200": {
                        "description": "slug: line, for each demo touchpoint",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "additionalProperties": STRING}
                            }
                        },
                    }
                },
            }
        },
        "/demo.js": {
            "get": {
                "summary": "The demo page's script",
                "responses": {"200": SCRIPT, "304": {"description": "not modified"}},
            }
        },
        "/favicon.ico": {
            "get": {
                "summary": "Scorelet's icon (SVG)",
                "responses": {
                    "200": {
                        "description": "SVG",
                        "content": {"image/svg+xml": {"schema": STRING}},
                    },
                    "304": {"description": "not modified"},
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Health: 503 when ratings can't be committed",
                "responses": {
                    **ok(200, "Health", "serving and committing"),
                    **ok(503, "Health", "the last commit failed (e.g. disk full)"),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            },
        },
    }


NAME_PATH = {"name": "name", "in": "path", "required": True, "schema": STRING}


def new_destination() -> Schema:
    """The destination body (shapes.DestinationBody) and which fields each type takes
    (parse_destination); the server also resolves a URL's host and refuses private
    addresses (SSRF)."""
    linear_only: dict[str, Schema] = {key: {"type": "null"} for key in LINEAR_ONLY}
    return {
        **NEW_DESTINATION.schema(),
        "oneOf": [
            {
                "properties": {
                    "type": {"enum": ["slack", "webhook"]},
                    "url": STRING,
                    **linear_only,
                },
                "required": ["url"],
            },
            {
                "properties": {
                    "type": {"const": "linear"},
                    "url": {"type": "null"},
                    "api_key": STRING,
                    "team": STRING,
                },
                "required": ["api_key", "team"],
            },
        ],
    }


SCHEMAS["NewDestination"] = new_destination()
SCHEMAS["Retry"] = {
    **RETRY.schema(),
    "oneOf": [  # which: the ids given, or every dead delivery
        {
            "properties": {"ids": {"type": "array"}, "all_dead": {"enum": [False, None]}},
            "required": ["ids"],
        },
        {
            "properties": {"ids": {"type": "null"}, "all_dead": {"const": True}},
            "required": ["all_dead"],
        },
    ],
}


def rule_score() -> Schema:
    """What parse_score accepts: one score, "MIN..MAX" or {"min", "max"}, MIN <= MAX."""
    points = range(LOWEST_SCORE, HIGHEST_SCORE + 1)
    ranges = [(low, high) for low in points for high in points if low <= high]
    return {
        "anyOf": [
            SCORE_BOUND,
            {"enum": [str(n) for n in points] + [f"{a}..{b}" for a, b in ranges]},
            {"enum": [{"min": a, "max": b} for a, b in ranges]},
        ],
        "description": '"MIN..MAX", one score, or {"min", "max"} within 0..10',
    }


def new_rule() -> Schema:
    """The rule body (rules.RuleBody) and its one action: notify destinations or add tags."""
    some: Schema = {"type": "array", "minItems": 1}
    none: Schema = {"maxItems": 0}
    return {
        **RULE_BODY.schema(),
        "oneOf": [
            {"properties": {"notify": some, "add_tags": none}, "required": ["notify"]},
            {"properties": {"add_tags": some, "notify": none}, "required": ["add_tags"]},
        ],
    }


SCHEMAS["RuleScore"] = rule_score()
SCHEMAS["NewRule"] = new_rule()
CLOCK = "(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"


def new_digest() -> Schema:
    """The digest body (shapes.NewDigest) and what periods.parse_at adds: `at` names a
    weekday for weekly digests only."""
    weekly = {
        "every": {"enum": ["week", None]},
        "at": {"pattern": f"^(?:{'|'.join(WEEKDAYS)}) {CLOCK}$"},
    }
    other = {"every": {"enum": ["month", "quarter"]}, "at": {"pattern": f"^{CLOCK}$"}}
    return {
        **NEW_DIGEST.schema(),
        "oneOf": [{"properties": weekly}, {"properties": other, "required": ["every"]}],
    }


SCHEMAS["NewDigest"] = new_digest()
SCHEMAS["WebhookPayload"] = PAYLOAD_SCHEMA


def listed(name: str, schema: str) -> dict[str, Any]:
    body = {**obj({name: {"type": "array", "items": ref(schema)}}), "additionalProperties": False}
    return {"200": {"description": name, "content": {"application/json": {"schema": body}}}}


def admin(summary: str, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary + " (admin key)",
        "security": ADMIN,
        **extra,
        "responses": {**answers, **problems(*AUTH_ERRORS)},
    }


def routing_paths() -> dict[str, Any]:
    """Destinations, rules, deliveries, digests and tags (see docs/routing.md)."""
    body_errors = problems(400, 404, 409, 413, 415, 422)
    return {
        "/api/v1/destinations": {
            "get": admin(
                "List destinations, secrets masked", listed("destinations", "Destination")
            ),
            "post": admin(
                "Add a destination (Slack, webhook, Linear); a webhook's secret is in this"
                " answer only",
                {**ok(201, "Destination", "created"), **body_errors},
                requestBody=json_body("NewDestination"),
            ),
        },
        "/api/v1/destinations/{name}": {
            "get": admin(
                "Show a destination",
                {**ok(200, "Destination", "the destination"), **problems(404)},
                parameters=[NAME_PATH],
            ),
            "delete": admin(
                "Remove a destination no rule or digest uses",
                {**ok(204, None, "removed"), **problems(404, 409)},
                parameters=[NAME_PATH],
            ),
        },
        "/api/v1/destinations/{name}/test": {
            "post": admin(
                "Send a clearly marked test message now; the receiver's answer",
                {**ok(200, "TestSend", "what the receiver answered"), **problems(404)},
                parameters=[NAME_PATH],
            )
        },
        "/api/v1/destinations/{name}/enable": {
            "post": admin(
                "Send to a destination again after a 410 disabled it",
                {**ok(200, "Destination", "enabled"), **problems(404)},
                parameters=[NAME_PATH],
            )
        },
        "/api/v1/rules": {
            "get": admin("List rules", listed("rules", "Rule")),
            "post": admin(
                "Add a tagging or notify rule",
                {**ok(201, "Rule", "created"), **body_errors},
                requestBody=json_body("NewRule"),
            ),
        },
        "/api/v1/rules/{name}": {
            "get": admin(
                "Show a rule",
                {**ok(200, "Rule", "the rule"), **problems(404)},
                parameters=[NAME_PATH],
            ),
            "delete": admin(
                "Remove a rule (tags it added stay)",
                {**ok(204, None, "removed"), **problems(404)},
                parameters=[NAME_PATH],
            ),
        },
        "/api/v1/rules/{name}/backfill": {
            "post": admin(
                "Apply a tagging rule to stored ratings",
                {
                    **ok(200, "Backfilled", "ratings looked at and tagged"),
                    **problems(400, 404, 413, 415, 422),
                },
                parameters=[NAME_PATH],
                requestBody=json_body("Backfill"),
            )
        },
        "/api/v1/deliveries": {
            "get": admin(
                "The outbox, newest first",
                {**listed("deliveries", "Delivery"), **problems(400, 404)},
                parameters=[
                    query(
                        "state",
                        "pending, failed, delivered or dead",
                        {"enum": ["pending", "failed", "delivered", "dead"]},
                    ),
                    query("destination", "one destination's deliveries"),
                    query("limit", "1-1000 (default 100)", LIMIT),
                ],
            )
        },
        "/api/v1/deliveries/retry": {
            "post": admin(
                "Send deliveries again now: {ids: [...]} or {all_dead: true}",
                {**listed("deliveries", "Delivery"), **body_errors},
                requestBody=json_body("Retry"),
            )
        },
        "/api/v1/digests": {
            "get": admin("List digests", listed("digests", "Digest")),
            "post": admin(
                "Add a weekly, monthly or quarterly digest",
                {**ok(201, "Digest", "created"), **body_errors},
                requestBody=json_body("NewDigest"),
            ),
        },
        "/api/v1/digests/{name}": {
            "delete": admin(
                "Remove a digest",
                {**ok(204, None, "removed"), **problems(404)},
                parameters=[NAME_PATH],
            )
        },
        "/api/v1/responses/{id}/tags": {
            "post": admin(
                "Tag a rating by hand",
                {**ok(201, "Response", "the rating with its tags"), **body_errors},
                parameters=[ID_PATH],
                requestBody=json_body("TagBody"),
            ),
            "delete": admin(
                "Take a tag off a rating (?tag= or a {tag} body)",
                {**ok(200, "Response", "the rating with its tags"), **body_errors},
                parameters=[ID_PATH, query("tag", "the tag to take off", TAG) | {"required": True}],
            ),
        },
    }


def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scorelet",
            "version": __version__,
            "description": "Self-hosted CSAT and NPS ratings. Errors are RFC 9457 problem"
            " details with a stable `code` and the offending `field`.",
        },
        "servers": [{"url": base_url}],
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from `scorelet key create`",
                }
            },
        },
    }
