"""The baseline: a Starlette app that does only what any endpoint must.

`POST /api/v1/responses` reads and parses the JSON body and answers 201 with a
small JSON object; `GET /api/v1/touchpoints/{slug}/score` answers 200 with a
small JSON object. It runs under the same uvicorn settings as `scorelet serve`
(one worker, uvloop, httptools, no access log), so a ratio against it is the
cost of Scorelet itself, not of the stack underneath.

    python bench/noop.py PORT
"""

from __future__ import annotations

import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp


async def submit(request: Request) -> Response:
    body = json.loads(await request.body())
    return JSONResponse({"ok": True, "score": body.get("score")}, status_code=201)


async def score(request: Request) -> Response:
    return JSONResponse({"touchpoint": request.path_params["slug"], "score": None})


app = Starlette(
    routes=[
        Route("/api/v1/responses", submit, methods=["POST"]),
        Route("/api/v1/touchpoints/{slug}/score", score, methods=["GET"]),
    ]
)


def serve(app: ASGIApp, port: int) -> None:
    """Run `app` with the settings `scorelet serve` passes to uvicorn (see scorelet/cli.py)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    serve(app, int(sys.argv[1]))
