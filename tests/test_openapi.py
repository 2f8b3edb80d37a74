"""/openapi.json documents every route, and real answers match its schemas."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from starlette.routing import Route

from conftest import LiveServer
from scorelet.app import create_app
from scorelet.openapi import TAG
from scorelet.routing.tags import TagError, check_tag


def spec(server: LiveServer) -> dict[str, Any]:
    with server.client() as client:
        body: dict[str, Any] = client.get("/openapi.json").json()
    return body


def check(document: dict[str, Any], schema: str, instance: Any) -> None:
    root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(instance)


def test_every_route_is_documented_with_its_methods(server: LiveServer) -> None:
    document = spec(server)
    jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"]["Score"])
    app = create_app(server.settings)
    for route in app.routes:
        assert isinstance(route, Route)
        if route.path.startswith("/dashboard"):
            continue  # pages for people signed in to the dashboard, not an API (docs/dashboard.md)
        assert route.path in document["paths"], route.path
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in document["paths"][route.path], (route.path, method)


def test_real_answers_match_the_schemas(server: LiveServer) -> None:
    document = spec(server)
    csat = server.add_touchpoint(metric="csat", question="How was it?")
    nps = server.add_touchpoint(metric="nps")
    check(document, "Touchpoint", csat)
    with server.client() as client:
        created = client.post("/api/v1/responses", json={"token": csat["embed_token"], "score": 5})
        check(document, "Response", created.json())
        bad = client.post("/api/v1/responses", json={"token": csat["embed_token"], "score": 9})
        check(document, "Problem", bad.json())
        check(document, "Health", client.get("/healthz").json())
        client.post("/api/v1/responses", json={"token": nps["embed_token"], "score": 9})
    with server.reader() as reader:
        for tp in (csat, nps):
            check(document, "Score", reader.get(f"/api/v1/touchpoints/{tp['slug']}/score").json())
        empty = server.add_touchpoint(metric="nps")
        check(document, "Score", reader.get(f"/api/v1/touchpoints/{empty['slug']}/score").json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/api/v1/destinations"),
        ("PUT", "/api/v1/touchpoints/checkout"),
        ("OPTIONS", "/api/v1/rules/some-rule"),
        ("PUT", "/api/v1/responses/0190b8d2-7a4e-7000-8000-000000000000"),
    ],
)
def test_a_405_allows_exactly_the_methods_the_spec_documents(
    server: LiveServer, method: str, path: str
) -> None:
    with server.admin() as admin:
        spec = admin.get("/openapi.json").json()
        answer = admin.request(method, path)
    template = next(
        p for p in spec["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path)
    )
    documented = {m.upper() for m in spec["paths"][template] if m != "parameters"}
    assert answer.status_code == 405
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert allowed - {"HEAD"} == documented


@pytest.mark.parametrize(
    ("tag", "accepted"),
    [("Billing", True), ("Facturación", True), ("½ off", True), ("請求", True),
     ("Bug_report", True), ("€uro", False), ("a,b", False), (" lead", False)],
)  # fmt: skip
def test_the_tag_pattern_reads_letters_as_the_server_does(tag: str, accepted: bool) -> None:
    """In ECMA-262's dialect, the one JSON Schema validators read (here the validator
    schemathesis uses), the pattern takes the letters and digits of every script that
    check_tag takes, and what it refuses it refuses too."""
    assert jsonschema_rs.is_valid(TAG, tag) is accepted
    if accepted:
        assert check_tag(tag) == tag
    elif tag.strip() == tag:  # (the server trims spaces; the schema asks for none)
        with pytest.raises(TagError):
            check_tag(tag)
