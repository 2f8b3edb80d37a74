"""The direct routes answer exactly what Starlette would, and nothing else goes past them."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conftest import LiveServer, run_server
from scorelet.api.middleware.direct import DirectRoutes
from scorelet.api.problems import handle_problem
from scorelet.errors import Problem, handle_crash
from scorelet.store import StorageError


async def inner(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands for Starlette."""
    await PlainTextResponse("", headers={"x-went": "starlette"})(scope, receive, send)


def direct(submit: object = None, score: object = None) -> httpx.AsyncClient:
    async def echo_submit(request: Request) -> Response:
        body = (await request.body()).decode()
        return PlainTextResponse("", status_code=201, headers={"x-went": f"submit {body}"})

    async def echo_score(request: Request) -> Response:
        return PlainTextResponse("", headers={"x-went": "score " + request.path_params["slug"]})

    handlers = {Problem: handle_problem, StorageError: handle_problem, Exception: handle_crash}
    app = DirectRoutes(inner, submit or echo_submit, score or echo_score, handlers)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


TP = "/api/v1/touchpoints"


@pytest.mark.parametrize(
    ("method", "path", "went"),
    [
        ("POST", "/api/v1/responses", "submit {}"),
        ("GET", f"{TP}/support/score", "score support"),
        ("GET", f"{TP}/a.b-c_d/score", "score a.b-c_d"),
        ("GET", "/api/v1/responses", "starlette"),
        ("POST", "/api/v1/responses/", "starlette"),
        ("PATCH", "/api/v1/responses", "starlette"),
        ("HEAD", f"{TP}/support/score", "starlette"),
        ("POST", f"{TP}/support/score", "starlette"),
        ("GET", f"{TP}//score", "starlette"),
        ("GET", f"{TP}/a/b/score", "starlette"),
        ("GET", f"{TP}/support/scores", "starlette"),
        ("GET", f"{TP}/score", "starlette"),
    ],
)
async def test_only_the_two_routes_are_taken(method: str, path: str, went: str) -> None:
    async with direct() as client:
        got = await client.request(method, path, content=b"{}" if method == "POST" else None)
    assert got.headers["x-went"] == went


async def test_a_problem_becomes_problem_json() -> None:
    async def refuse(request: Request) -> Response:
        raise Problem(422, "score_out_of_range", "score must be from 1 to 5", "score")

    async with direct(submit=refuse) as client:
        got = await client.post("/api/v1/responses", content=b"{}")
    assert got.status_code == 422
    assert got.headers["content-type"] == "application/problem+json"
    assert (got.json()["code"], got.json()["field"]) == ("score_out_of_range", "score")


async def test_a_crash_is_a_500_without_details_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash(request: Request) -> Response:
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR, logger="scorelet"):
        async with direct(score=crash) as client:
            got = await client.get("/api/v1/touchpoints/x/score")
    assert got.status_code == 500
    assert got.json()["code"] == "internal_error"
    assert "secret" not in got.text
    assert "secret internals" in caplog.text


def test_other_methods_on_the_direct_paths_still_get_starlettes_answers(
    server: LiveServer,
) -> None:
    tp = server.add_touchpoint(metric="csat")
    with server.reader() as reader:
        score = reader.get(f"/api/v1/touchpoints/{tp['slug']}/score")
        head = reader.head(f"/api/v1/touchpoints/{tp['slug']}/score")
        wrong = reader.put(f"/api/v1/touchpoints/{tp['slug']}/score")
        missing = reader.get("/api/v1/touchpoints/no-such-thing/score")
        listing = reader.get("/api/v1/responses")
    assert score.status_code == head.status_code == 200
    assert head.headers["etag"] == score.headers["etag"]
    assert head.content == b""
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    assert (missing.status_code, missing.json()["code"]) == (404, "touchpoint_not_found")
    assert (listing.status_code, listing.json()["code"]) == (405, "method_not_allowed")


def test_direct_requests_are_counted_and_get_the_guards_headers(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat", origins=["https://shop.example"])
    with server.client() as client:
        created = client.post(
            "/api/v1/responses",
            json={"token": tp["embed_token"], "score": 5},
            headers={"Origin": "https://shop.example"},
        )
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == "https://shop.example"
    assert created.headers["x-content-type-options"] == "nosniff"
    with server.reader() as reader:
        metrics = reader.get("/metrics").text
    assert 'scorelet_http_requests_total{method="POST",route="responses",status="201"}' in metrics


def test_middleware_an_embedder_adds_sees_the_direct_routes_and_their_errors(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str, int]] = []

    class Log:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    seen.append((scope["method"], scope["path"], message["status"]))
                await send(message)

            await self.app(scope, receive, sending)

    async def teapot(request: Request, error: Exception) -> Response:
        assert isinstance(error, Problem)
        return PlainTextResponse(f"teapot {error.code}", status_code=418)

    def embed(app: Starlette) -> None:
        app.add_middleware(Log)
        app.add_exception_handler(Problem, teapot)

    for server in run_server(tmp_path / "data", prepare=embed):
        seen.clear()  # the test server's own set-up requests
        with server.client() as client:
            posted = client.post("/api/v1/responses", content=b"{not json")
            health = client.get("/healthz")
        with server.reader() as reader:
            scored = reader.get("/api/v1/touchpoints/nowhere/score")
    assert (posted.status_code, posted.text) == (418, "teapot unsupported_media_type")
    assert (scored.status_code, scored.text) == (418, "teapot touchpoint_not_found")
    assert health.status_code == 200
    assert seen == [
        ("POST", "/api/v1/responses", 418),
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/touchpoints/nowhere/score", 418),
    ]
