"""Every kind of bad input gets a precise problem+json 4xx and stores nothing."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Clock, LiveServer, run_server
from scorelet.tokens import Signer


@dataclass
class Env:
    server: LiveServer
    csat: dict[str, Any]
    nps: dict[str, Any]
    response_id: str

    @property
    def token(self) -> str:
        return str(self.csat["embed_token"])


@pytest.fixture(scope="module")
def env(server: LiveServer) -> Env:
    csat = server.add_touchpoint(metric="csat", scale="stars")
    nps = server.add_touchpoint(metric="nps")
    with server.client() as client:
        created = client.post("/api/v1/responses", json={"token": csat["embed_token"], "score": 4})
    return Env(server, csat, nps, created.json()["id"])


def tampered(token: str) -> str:
    """Change the payload (the signature's last base64 digit may be padding bits only)."""
    at = 4
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


# (name, request builder, status, code, field)
Case = tuple[str, Callable[[Env], dict[str, Any]], int, str, str | None]


def post(body: Any, **extra: Any) -> Callable[[Env], dict[str, Any]]:
    def build(env: Env) -> dict[str, Any]:
        data = body(env) if callable(body) else body
        return {"method": "POST", "url": "/api/v1/responses", "json": data, **extra}

    return build


def raw(content: bytes, content_type: str = "application/json") -> Callable[[Env], dict[str, Any]]:
    return lambda env: {
        "method": "POST",
        "url": "/api/v1/responses",
        "content": content,
        "headers": {"content-type": content_type},
    }


def encoded(
    encoding: str, content_type: str = "application/json", **headers: str
) -> Callable[[Env], dict[str, Any]]:
    """A valid rating, sent in `encoding` (with a BOM for 'utf-16' and 'utf-32')."""
    return lambda env: {
        "method": "POST",
        "url": "/api/v1/responses",
        "content": json.dumps({"token": env.token, "score": 4}).encode(encoding),
        "headers": {"content-type": content_type, **headers},
    }


def text(body: Callable[[Env], str]) -> Callable[[Env], dict[str, Any]]:
    """A JSON body written out by hand, for what json.dumps can't produce."""
    return lambda env: {
        "method": "POST",
        "url": "/api/v1/responses",
        "content": body(env).encode(),
        "headers": {"content-type": "application/json"},
    }


CASES: list[Case] = [
    (
        "score above the scale",
        post(lambda e: {"token": e.token, "score": 6}),
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "score below the scale",
        post(lambda e: {"token": e.token, "score": 0}),
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "nps score 11",
        post(lambda e: {"token": e.nps["embed_token"], "score": 11}),
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "negative score",
        post(lambda e: {"token": e.token, "score": -3}),
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "huge score",
        post(lambda e: {"token": e.token, "score": 10**30}),
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "fractional score",
        post(lambda e: {"token": e.token, "score": 4.5}),
        422,
        "wrong_type",
        "score",
    ),
    ("string score", post(lambda e: {"token": e.token, "score": "4"}), 422, "wrong_type", "score"),
    (
        "boolean score",
        post(lambda e: {"token": e.token, "score": True}),
        422,
        "wrong_type",
        "score",
    ),
    ("missing score", post(lambda e: {"token": e.token}), 422, "missing_field", "score"),
    ("missing token", post({"score": 4}), 422, "missing_field", "token"),
    ("token not a string", post({"token": 12, "score": 4}), 422, "wrong_type", "token"),
    ("forged token", post({"token": "e.WyJ4IiwxXQ.forged", "score": 4}), 403, "bad_token", "token"),
    (
        "tampered token",
        post(lambda e: {"token": tampered(e.token), "score": 4}),
        403,
        "bad_token",
        "token",
    ),
    ("not a scorelet token", post({"token": "hello", "score": 4}), 403, "bad_token", "token"),
    (
        "token signed with another secret",
        post(
            lambda e: {
                "token": Signer(["another-secret-0123456789"]).mint_embed(e.csat["slug"], 1),
                "score": 4,
            }
        ),
        403,
        "bad_token",
        "token",
    ),
    (
        "subject token used as if embed (salt swap)",
        post(
            lambda e: {
                "token": "e."
                + Signer(e.server.settings.secrets).mint_subject(
                    e.csat["slug"], "s", {}, 4_000_000_000
                )[2:],
                "score": 4,
            }
        ),
        403,
        "bad_token",
        "token",
    ),
    (
        "expired subject token",
        post(
            lambda e: {
                "token": Signer(e.server.settings.secrets).mint_subject(
                    e.csat["slug"], "s", {}, 10
                ),
                "score": 4,
            }
        ),
        403,
        "token_expired",
        "token",
    ),
    (
        "token for a deleted touchpoint",
        post(
            lambda e: {
                "token": Signer(e.server.settings.secrets).mint_embed("never-made", 1),
                "score": 4,
            }
        ),
        404,
        "touchpoint_not_found",
        "token",
    ),
    (
        "unknown field",
        post(lambda e: {"token": e.token, "score": 4, "scroe": 4}),
        422,
        "unknown_field",
        "scroe",
    ),
    (
        "comment too long",
        post(lambda e: {"token": e.token, "score": 4, "comment": "x" * 2001}),
        422,
        "too_long",
        "comment",
    ),
    (
        "comment with NUL",
        post(lambda e: {"token": e.token, "score": 4, "comment": "a\u0000b"}),
        422,
        "invalid_text",
        "comment",
    ),
    (
        "comment not a string",
        post(lambda e: {"token": e.token, "score": 4, "comment": ["a"]}),
        422,
        "wrong_type",
        "comment",
    ),
    (
        "too many context keys",
        post(
            lambda e: {"token": e.token, "score": 4, "context": {f"k{i}": "v" for i in range(21)}}
        ),
        422,
        "too_many_context_keys",
        "context",
    ),
    (
        "10k context keys",
        post(
            lambda e: {
                "token": e.token,
                "score": 4,
                "context": {f"k{i}": "v" for i in range(10_000)},
            }
        ),
        413,
        "body_too_large",
        None,
    ),
    (
        "context value too long",
        post(lambda e: {"token": e.token, "score": 4, "context": {"plan": "x" * 201}}),
        422,
        "too_long",
        "context.plan",
    ),
    (
        "context key too long",
        post(lambda e: {"token": e.token, "score": 4, "context": {"k" * 41: "v"}}),
        422,
        "bad_context_key",
        None,
    ),
    (
        "context key reserved",
        post(lambda e: {"token": e.token, "score": 4, "context": {"since": "v"}}),
        422,
        "bad_context_key",
        "context.since",
    ),
    (
        "context value not a string",
        post(lambda e: {"token": e.token, "score": 4, "context": {"n": 1}}),
        422,
        "wrong_type",
        "context.n",
    ),
    (
        "context not an object",
        post(lambda e: {"token": e.token, "score": 4, "context": "agent=a"}),
        422,
        "wrong_type",
        "context",
    ),
    (
        "client id not a uuid",
        post(lambda e: {"token": e.token, "score": 4, "id": "123"}),
        422,
        "invalid_value",
        "id",
    ),
    ("malformed json", raw(b'{"token": '), 400, "malformed_json", None),
    ("json array body", raw(b"[1, 2]"), 400, "malformed_json", None),
    ("NaN in json", raw(b'{"score": NaN}'), 400, "malformed_json", None),
    ("Infinity in json", raw(b'{"score": Infinity}'), 400, "malformed_json", None),
    ("invalid utf-8", raw(b'{"comment": "\xff\xfe"}'), 400, "malformed_json", None),
    ("utf-16 with a BOM", encoded("utf-16"), 400, "malformed_json", None),
    ("utf-16 without a BOM", encoded("utf-16-be"), 400, "malformed_json", None),
    ("utf-32 with a BOM", encoded("utf-32"), 400, "malformed_json", None),
    ("utf-32 without a BOM", encoded("utf-32-le"), 400, "malformed_json", None),
    (
        "a declared charset other than utf-8",
        encoded("utf-8", "application/json; charset=utf-16"),
        415,
        "unsupported_media_type",
        "content-type",
    ),
    (
        "a compressed body",
        encoded("utf-8", **{"content-encoding": "gzip"}),
        415,
        "unsupported_media_type",
        "content-encoding",
    ),
    (
        "a duplicate key",
        text(lambda e: f'{{"token": "{e.token}", "score": 1, "score": 5}}'),
        400,
        "malformed_json",
        "score",
    ),
    (
        "-0 on stars",
        text(lambda e: f'{{"token": "{e.token}", "score": -0}}'),
        422,
        "wrong_type",
        "score",
    ),
    (
        "-0 on nps",
        text(lambda e: f'{{"token": "{e.nps["embed_token"]}", "score": -0}}'),
        422,
        "wrong_type",
        "score",
    ),
    ("deeply nested json", raw(b"[" * 100_00 + b"]" * 100_00), 413, "body_too_large", None),
    (
        "form-encoded body",
        raw(b"score=4", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
        None,
    ),
    ("oversized body", raw(b'{"comment": "' + b"x" * 20_000 + b'"}'), 413, "body_too_large", None),
    (
        "patch with a bad id",
        lambda e: {
            "method": "PATCH",
            "url": "/api/v1/responses/not-a-uuid",
            "json": {"token": e.token, "comment": "x"},
        },
        422,
        "invalid_value",
        "id",
    ),
    (
        "patch without comment",
        lambda e: {
            "method": "PATCH",
            "url": f"/api/v1/responses/{e.response_id}",
            "json": {"token": e.token},
        },
        422,
        "missing_field",
        "comment",
    ),
    (
        "patch on another response (nps token)",
        lambda e: {
            "method": "PATCH",
            "url": f"/api/v1/responses/{e.response_id}",
            "json": {"token": e.nps["embed_token"], "comment": "x"},
        },
        403,
        "token_mismatch",
        "token",
    ),
    (
        "impression with forged token",
        lambda e: {"method": "POST", "url": "/api/v1/impressions", "json": {"token": "e.x.y"}},
        403,
        "bad_token",
        "token",
    ),
    (
        "impression with extra field",
        lambda e: {
            "method": "POST",
            "url": "/api/v1/impressions",
            "json": {"token": e.token, "score": 1},
        },
        422,
        "unknown_field",
        "score",
    ),
    (
        "unknown route",
        lambda e: {"method": "GET", "url": "/api/v1/nothing"},
        404,
        "not_found",
        None,
    ),
    (
        "wrong method",
        lambda e: {"method": "DELETE", "url": "/api/v1/responses"},
        405,
        "method_not_allowed",
        None,
    ),
]


def table() -> list[Any]:
    return [pytest.param(*case[1:], id=case[0]) for case in CASES]


def stored(env: Env) -> tuple[Any, ...]:
    """Everything a refused request could have changed, as the API reports it."""
    with env.server.reader() as reader:
        scores = reader.get("/api/v1/scores").json()["touchpoints"]
        listed = [
            reader.get(f"/api/v1/touchpoints/{tp['slug']}/responses").json()["responses"]
            for tp in (env.csat, env.nps)
        ]
    return (
        [(s["touchpoint"], s["responses"], s["distribution"], s["impressions"]) for s in scores],
        [(r["id"], r["score"], r["comment"], r["context"]) for page in listed for r in page],
    )


@pytest.mark.parametrize(("build", "status", "code", "field"), table())
def test_bad_input_is_a_precise_problem_and_stores_nothing(
    env: Env, build: Callable[[Env], dict[str, Any]], status: int, code: str, field: str | None
) -> None:
    before = stored(env)
    request = build(env)
    with env.server.client() as client:
        response = client.request(**request)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"].endswith(code)
    assert problem["detail"]
    if field is not None:
        assert problem["field"] == field
    assert stored(env) == before
    with env.server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_the_table_has_forty_cases() -> None:
    assert len(CASES) >= 40


def test_a_lone_surrogate_in_a_comment_is_refused(env: Env) -> None:
    body = f'{{"token": "{env.token}", "score": 4, "comment": "\\ud800"}}'
    before = stored(env)
    with env.server.client() as client:
        response = client.post(
            "/api/v1/responses", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_text"
    assert stored(env) == before


def test_unicode_comments_survive_intact(env: Env) -> None:
    comment = "Très bien 👍🏽 — 很好\u200d\nzweite Zeile"
    with env.server.client() as client:
        response = client.post(
            "/api/v1/responses", json={"token": env.token, "score": 5, "comment": comment}
        )
    assert response.status_code == 201
    assert response.json()["comment"] == comment
    with env.server.reader() as reader:
        stored = reader.get(f"/api/v1/responses/{response.json()['id']}")
    assert stored.json()["comment"] == comment


def test_a_utf8_byte_order_mark_is_skipped(env: Env) -> None:
    body = b"\xef\xbb\xbf" + json.dumps({"token": env.token, "score": 5}).encode()
    with env.server.client() as client:
        response = client.post(
            "/api/v1/responses", content=body, headers={"content-type": "application/json"}
        )
        declared = client.post(
            "/api/v1/responses",
            content=json.dumps({"token": env.token, "score": 5}),
            headers={"content-type": 'text/plain; charset="UTF-8"'},
        )
    assert (response.status_code, declared.status_code) == (201, 201)


def test_a_body_without_content_type_is_refused_with_advice(env: Env) -> None:
    with env.server.client() as client:
        response = client.post(
            "/api/v1/responses", content=json.dumps({"token": env.token, "score": None})
        )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


def test_patch_outside_the_edit_window_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    for server in run_server(tmp_path / "data", clock=clock):
        token = server.add_touchpoint()["embed_token"]
        with server.client() as client:
            created = client.post("/api/v1/responses", json={"token": token, "score": 4}).json()
            clock.advance(24 * 3600 + 1)
            response = client.patch(
                f"/api/v1/responses/{created['id']}", json={"token": token, "comment": "late"}
            )
            repost = client.post(
                "/api/v1/responses", json={"token": token, "score": 1, "id": created["id"]}
            )
        assert response.status_code == 409
        assert response.json()["code"] == "edit_window_closed"
        assert repost.status_code == 409
        with server.reader() as reader:
            assert reader.get(f"/api/v1/responses/{created['id']}").json() == created


# -- messages that say what to do -------------------------------------------------------------


def stored_count(env: Env) -> int:
    with env.server.reader() as reader:
        scores = reader.get("/api/v1/scores").json()["touchpoints"]
    return sum(score["responses"] for score in scores)


def test_a_rating_by_slug_is_told_where_its_token_comes_from(env: Env) -> None:
    before = stored_count(env)
    with env.server.client() as client:
        answer = client.post("/api/v1/responses", json={"touchpoint": env.csat["slug"], "score": 5})
    problem = answer.json()
    assert (answer.status_code, problem["code"]) == (422, "missing_field")
    assert problem["field"] == "token"
    assert f"`scorelet embed {env.csat['slug']} --token`" in problem["detail"]
    assert problem["detail"].startswith("token required: copy it from")
    assert "drop the touchpoint field" in problem["detail"]
    assert stored_count(env) == before


def test_a_rating_without_any_token_names_the_command_too(env: Env) -> None:
    with env.server.client() as client:
        answer = client.post("/api/v1/responses", json={"score": 5})
    assert "`scorelet embed SLUG --token`" in answer.json()["detail"]
    assert answer.json()["field"] == "token"


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("{key}", "put 'Bearer ' before the key"),
        ("Token {key}", "must be 'Bearer <key>'"),
        ("Bearer", "must be 'Bearer <key>'"),
        ("Bearer hunter2", "keys start with slk_"),
        ("Bearer slk_00000000_unknown", "no such API key"),
    ],
)
def test_a_malformed_or_unknown_key_says_what_is_wrong(env: Env, header: str, says: str) -> None:
    value = header.format(key=env.server.read_key)
    with env.server.client() as client:
        answer = client.get(
            f"/api/v1/touchpoints/{env.csat['slug']}/score", headers={"authorization": value}
        )
    assert (answer.status_code, answer.json()["code"]) == (401, "bad_api_key")
    assert says in answer.json()["detail"]


API_SOURCES = [
    path
    for path in (Path(__file__).parents[1] / "server" / "scorelet").rglob("*.py")
    if "dashboard" not in path.parts and path.name not in ("accounts.py", "cli.py")
]
# Which argument of each call holds the error code: `Problem(404, "code", ...)`,
# `Refused("code", ...)`, `invalid(field, message, "code")` and the rules modules' errors.
CODE_ARGUMENT = {"Problem": 1, "Refused": 0, "invalid": 2, "RuleError": 2, "DestinationError": 2}


def _strings(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):  # "two_actions" if notify else "missing_action"
        return _strings(node.body) | _strings(node.orelse)
    return set()


def _codes(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            index = CODE_ARGUMENT.get(node.func.id)
            if index is not None and len(node.args) > index:
                found |= _strings(node.args[index])
            found |= {c for k in node.keywords if k.arg == "code" for c in _strings(k.value)}
    return found


def test_every_error_code_the_api_answers_with_is_in_the_docs_table() -> None:
    """docs/api.md's table is where a client looks a code up: none may be missing."""
    from scorelet.api.problems import _NOT_FOUND

    written = {code for path in API_SOURCES for code in _codes(path.read_text())}
    written |= {code for code, _, _ in _NOT_FOUND.values()} - {"user_not_found"}  # the CLI's
    written |= {f"{what}_exists" for what in ("touchpoint", "rule", "destination", "digest")}
    table = (Path(__file__).parents[1] / "docs" / "api.md").read_text()
    documented = set(re.findall(r"`([a-z_]+)`", table))
    assert {"two_actions", "missing_action", "wrong_type", "already_delivered"} <= written
    assert sorted(written - documented) == []
