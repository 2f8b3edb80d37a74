"""The one error shape: RFC 9457 problem details, raised as `Problem`.

Anything a client did wrong becomes a `Problem` with a stable snake_case
`code` (`score_out_of_range`, `bad_token`, `token_expired` ...) and, where one
field is at fault, its name in `field`. The app turns every `Problem` into an
`application/problem+json` response in one handler; the CLI prints its detail
as one line.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

if TYPE_CHECKING:  # the views import modules that import this one
    from scorelet.views import ProblemView

PROBLEM_TYPE = "urn:scorelet:problem:"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def body(self) -> ProblemView:
        body: ProblemView = {
            "type": PROBLEM_TYPE + self.code,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if self.field is not None:
            body["field"] = self.field
        return body


def invalid(field: str, detail: str, code: str = "invalid_value", status: int = 422) -> Problem:
    """A request field that parses but can't be accepted."""
    return Problem(status, code, detail, field)


def touchpoint_not_found(slug: str, field: str) -> Problem:
    """A touchpoint named in a path or a body that doesn't exist (or no longer does)."""
    return Problem(404, "touchpoint_not_found", f"no touchpoint is named {slug[:64]!r}", field)


def bad_query(field: str, detail: str) -> Problem:
    """A query parameter of a read endpoint (or a CLI flag standing for one) that can't be used."""
    return Problem(400, "bad_query", detail, field)


def not_found(code: str, detail: str, field: str | None = None) -> Problem:
    return Problem(404, code, detail, field)


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        headers=problem.headers,
        media_type="application/problem+json",
    )


async def handle_http(request: Request, error: Exception) -> Response:
    """Starlette's own 404/405 etc., in the same shape."""
    assert isinstance(error, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(
        error.status_code, HTTPStatus(error.status_code).phrase.lower().replace(" ", "_")
    )
    detail = {
        404: f"nothing is at {request.url.path[:200]}; see /openapi.json",
        405: f"{request.method} is not allowed on {request.url.path[:200]}",
    }.get(error.status_code, str(error.detail))
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(Problem(error.status_code, code, detail, headers=headers))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's own 405 names only the
    methods of the first route that matched the path, where each method has its route.
    A path spelled out in full (`/api/v1/responses/current`) takes only its own routes'
    methods, not those of a pattern it also fits (`/api/v1/responses/{id}`)."""
    matching = [
        route
        for route in request.app.routes
        if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
    ]
    literal = [route for route in matching if not route.param_convertors]
    methods: set[str] = set()
    for route in literal or matching:
        methods |= route.methods or set()
    order = ("HEAD", "GET", "POST", "PUT", "PATCH", "DELETE")
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


async def handle_crash(request: Request, error: Exception) -> Response:
    """A bug: answer in the usual shape without details (the traceback goes to the log)."""
    return problem_response(Problem(500, "internal_error", "the server hit an unexpected error"))
