"""The one mapping from an exception to the problem+json a client sees.

Handlers raise `Problem`s for what a client did wrong; storage raises its own
errors (store/errors.py). Starlette's exception handlers, `DirectRoutes` and
the CLI all turn exceptions into problems here, so they can't disagree.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scorelet.errors import Problem, problem_response
from scorelet.store.errors import AlreadyExists, NotFound, Refused, StorageError, Unavailable

# What each missing thing is over HTTP: (code, field, detail).
_NOT_FOUND = {
    "touchpoint": ("touchpoint_not_found", "slug", "no touchpoint is named {key!r}"),
    "response": ("response_not_found", "id", "no response has this id"),
    "active API key": ("key_not_found", "id", "no active API key has the id {key!r}"),
    "rule": ("rule_not_found", "name", "no rule is named {key!r}"),
    "destination": ("destination_not_found", "name", "no destination is named {key!r}"),
    "digest": ("digest_not_found", "name", "no digest is named {key!r}"),
    "delivery": ("delivery_not_found", "ids", "no delivery has the id {key!r}"),  # retry
    "user": ("user_not_found", "email", "no dashboard account is {key!r}"),
}
_EXISTS = {"user": ("email", "{key} has a dashboard account already (scorelet user list)")}
_REFUSED_STATUS = {
    "token_mismatch": 403,
    "destination_not_found": 404,  # named in a body, as a token names its touchpoint
    "digest_destination": 422,
    "not_a_tagging_rule": 422,
    "tag_not_found": 404,
}


def problem_of(error: Exception) -> Problem:
    """The one mapping from an exception to the problem a client sees.

    Problems pass through; storage errors get their status and code; anything
    else is a bug, answered as a 500 without details (the traceback is logged).
    """
    if isinstance(error, Problem):
        return error
    if isinstance(error, StorageError):
        return _storage_problem(error)
    return Problem(500, "internal_error", "the server hit an unexpected error")


def _storage_problem(error: StorageError) -> Problem:
    if isinstance(error, Unavailable):
        return Problem(
            503,
            "storage_unavailable",
            "the database can't take writes right now; nothing was stored, try again later",
            headers={"Retry-After": "5"},
        )
    if isinstance(error, NotFound):
        code, field, detail = _NOT_FOUND.get(error.what, ("not_found", "id", str(error)))
        return Problem(404, code, detail.format(key=error.key[:64]), field)
    if isinstance(error, AlreadyExists):
        default = (
            "slug" if error.what == "touchpoint" else "name",
            "a {what} named {key!r} exists",
        )
        field, detail = _EXISTS.get(error.what, default)
        return Problem(
            409, f"{error.what}_exists", detail.format(what=error.what, key=error.key), field
        )
    if isinstance(error, Refused):
        return Problem(_REFUSED_STATUS.get(error.code, 409), error.code, str(error), error.field)
    return Problem(500, "internal_error", "the server hit an unexpected error")


async def handle_problem(request: Request, error: Exception) -> Response:
    """Problems and storage errors, in the one shape."""
    return problem_response(problem_of(error))
