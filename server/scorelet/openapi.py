"""The OpenAPI 3.1 description served at /openapi.json, written out by hand.

Kept next to the handlers' rules by tests: every route must appear here, and
the tests check real responses against these schemas.
"""

from __future__ import annotations

from typing import Any

from scorelet import __version__
from scorelet.validation import MAX_COMMENT, MAX_CONTEXT_KEYS, MAX_CONTEXT_VALUE

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
NUMBER = {"type": "number"}
TIME = {"type": "string", "format": "date-time"}
CONTEXT = {
    "type": "object",
    "maxProperties": MAX_CONTEXT_KEYS,
    "additionalProperties": {"type": "string", "maxLength": MAX_CONTEXT_VALUE},
}
GROUP = obj({"count": INTEGER, "percent": nullable(NUMBER)})

SCHEMAS: dict[str, Schema] = {
    "Problem": obj(
        {
            "type": STRING,
            "title": STRING,
            "status": INTEGER,
            "code": STRING,
            "detail": STRING,
            "field": STRING,
        },
        ["type", "title", "status", "code", "detail"],
    ),
    "NewResponse": {
        **obj(
            {
                "token": {**STRING, "description": "embed token (e.…) or subject token (s.…)"},
                "score": INTEGER,
                "comment": nullable({**STRING, "maxLength": MAX_COMMENT}),
                "context": CONTEXT,
                "id": {
                    **STRING,
                    "format": "uuid",
                    "description": "client-made id: re-posting it changes the same rating",
                },
            },
            ["token", "score"],
        ),
        "additionalProperties": False,
    },
    "CommentUpdate": {
        **obj({"token": STRING, "comment": nullable({**STRING, "maxLength": MAX_COMMENT})}),
        "additionalProperties": False,
    },
    "TokenOnly": {**obj({"token": STRING}), "additionalProperties": False},
    "Response": obj(
        {
            "id": {**STRING, "format": "uuid"},
            "touchpoint": STRING,
            "score": INTEGER,
            "comment": nullable(STRING),
            "subject": nullable(STRING),
            "context": CONTEXT,
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "TouchpointSettings": obj(
        {
            "question": nullable(STRING),
            "low_label": nullable(STRING),
            "high_label": nullable(STRING),
            "comment_prompt": nullable(STRING),
            "thank_you": nullable(STRING),
            "locale": nullable(STRING),
            "origins": {"type": "array", "items": STRING},
            "satisfied_from": nullable(INTEGER),
            "cooldown_days": INTEGER,
            "active": {"type": "boolean"},
        },
        [],
    ),
    "NewTouchpoint": {
        "allOf": [
            ref("TouchpointSettings"),
            obj(
                {
                    "slug": {**STRING, "pattern": "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"},
                    "metric": {"enum": ["csat", "nps"]},
                    "scale": {
                        **STRING,
                        "description": "stars, smileys, smileys3, numeric:N (3-10); nps for NPS",
                    },
                },
                ["slug", "metric"],
            ),
        ]
    },
    "TouchpointUpdate": {
        "allOf": [
            ref("TouchpointSettings"),
            obj({"rotate_token": {"type": "boolean"}}, []),
        ]
    },
    "Touchpoint": obj(
        {
            "slug": STRING,
            "metric": {"enum": ["csat", "nps"]},
            "scale": STRING,
            "min": INTEGER,
            "max": INTEGER,
            "question": nullable(STRING),
            "low_label": nullable(STRING),
            "high_label": nullable(STRING),
            "comment_prompt": nullable(STRING),
            "thank_you": nullable(STRING),
            "locale": nullable(STRING),
            "origins": {"type": "array", "items": STRING},
            "satisfied_from": nullable(INTEGER),
            "cooldown_days": INTEGER,
            "active": {"type": "boolean"},
            "embed_token": STRING,
            "embed_url": STRING,
        }
    ),
    "Score": obj(
        {
            "touchpoint": STRING,
            "metric": {"enum": ["csat", "nps"]},
            "responses": INTEGER,
            "score": nullable(NUMBER),
            "satisfied": INTEGER,
            "satisfied_from": INTEGER,
            "mean": nullable(NUMBER),
            "promoters": GROUP,
            "passives": GROUP,
            "detractors": GROUP,
            "distribution": {"type": "object", "additionalProperties": INTEGER},
            "interval": obj({"low": nullable(NUMBER), "high": nullable(NUMBER), "level": NUMBER}),
            "impressions": nullable(INTEGER),
            "response_rate": nullable(NUMBER),
            "since": nullable(TIME),
            "until": nullable(TIME),
            "filters": {"type": "object", "additionalProperties": STRING},
        },
        [
            "touchpoint",
            "metric",
            "responses",
            "score",
            "distribution",
            "interval",
            "impressions",
            "response_rate",
        ],
    ),
    "Health": obj(
        {"status": STRING, "version": STRING, "touchpoints": INTEGER, "writer_queue": INTEGER}
    ),
}


def problems(*statuses: int) -> dict[str, Any]:
    content = {"application/problem+json": {"schema": ref("Problem")}}
    return {str(s): {"description": "problem details", "content": content} for s in statuses}


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
WINDOW = [
    {
        "name": "since",
        "in": "query",
        "schema": STRING,
        "description": "from this instant: ISO 8601 or epoch seconds (inclusive)",
    },
    {
        "name": "until",
        "in": "query",
        "schema": STRING,
        "description": "before this instant: ISO 8601 or epoch seconds (exclusive)",
    },
]
CONTEXT_FILTERS = {
    "name": "filters",
    "in": "query",
    "style": "form",
    "explode": True,
    "schema": {"type": "object", "additionalProperties": STRING},
    "description": "any other parameter filters by context, e.g. agent=alice",
}
READ: list[Schema] = [{"apiKey": []}]  # the scope needed is in each summary
ADMIN = READ
AUTH_ERRORS = (401, 403)
SCRIPT = {"description": "JavaScript", "content": {"text/javascript": {"schema": STRING}}}


def paths() -> dict[str, Any]:
    return {
        "/api/v1/responses": {
            "post": {
                "summary": "Submit a rating (public: authorised by the embed or subject token)",
                "requestBody": json_body("NewResponse", plain=True),
                "responses": {
                    **ok(201, "Response", "stored and committed"),
                    **ok(200, "Response", "an earlier rating (same id or subject) was replaced"),
                    **problems(400, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/v1/responses/{id}": {
            "patch": {
                "summary": "Add, change or clear the comment of a rating",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": STRING}],
                "requestBody": json_body("CommentUpdate", plain=True),
                "responses": {
                    **ok(200, "Response", "updated"),
                    **problems(400, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/v1/impressions": {
            "post": {
                "summary": "Count one display of the widget",
                "requestBody": json_body("TokenOnly", plain=True),
                "responses": {
                    **ok(204, None, "counted"),
                    **problems(400, 403, 404, 413, 415, 422),
                },
            }
        },
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
                "parameters": [SLUG, *WINDOW, CONTEXT_FILTERS],
                "responses": {**ok(200, "Score", "the score"), **problems(400, *AUTH_ERRORS, 404)},
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
        "/healthz": {
            "get": {"summary": "Liveness", "responses": ok(200, "Health", "serving")},
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
