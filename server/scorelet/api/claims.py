"""Turning a token from a request into the touchpoint (and subject) it speaks for."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from scorelet.api.cors import allow_origin
from scorelet.api.headers import header
from scorelet.api.refusals import REFUSALS
from scorelet.errors import Problem
from scorelet.store import Store
from scorelet.tokens import EmbedClaims, Signer, SubjectClaims, TokenError
from scorelet.touchpoints import Touchpoint
from scorelet.validation import wrong_type


@dataclass(frozen=True, slots=True)
class Bearer:
    """A verified token and its live touchpoint."""

    touchpoint: Touchpoint
    subject: SubjectClaims | None

    @property
    def context(self) -> dict[str, str]:
        return dict(self.subject.context) if self.subject else {}


def resolve_token(signer: Signer, store: Store, token: Any, field: str = "token") -> Bearer:
    if token is None:
        raise Problem(422, "missing_field", f"{field} is required", field)
    if not isinstance(token, str):
        raise wrong_type(field, "a string")
    try:
        claims = signer.verify(token)
    except TokenError as error:
        raise Problem(403, error.code, f"{field} is not valid: {error}", field) from None
    touchpoint = store.touchpoint(claims.touchpoint)
    if touchpoint is None:
        raise Problem(
            404,
            "touchpoint_not_found",
            f"the touchpoint {claims.touchpoint!r} no longer exists",
            field,
        )
    if isinstance(claims, EmbedClaims) and claims.version != touchpoint.token_version:
        raise Problem(403, "token_revoked", f"this {field} was revoked; embed the new one", field)
    if isinstance(claims, SubjectClaims) and claims.expired(time.time()):
        raise Problem(403, "token_expired", f"this {field} has expired", field)
    if not touchpoint.active:
        raise Problem(403, "touchpoint_inactive", f"{touchpoint.slug!r} is paused", field)
    return Bearer(touchpoint, claims if isinstance(claims, SubjectClaims) else None)


# What a `scorelet` command changed a moment ago looks like to a server that hasn't
# reloaded yet (it does within a second): worth one look at the file before refusing.
STALE = frozenset({"touchpoint_not_found", "token_revoked", "touchpoint_inactive"})


async def resolve_fresh(signer: Signer, store: Store, token: Any, field: str = "token") -> Bearer:
    """`resolve_token`, re-checked against the database file before a refusal that the CLI
    may have just made untrue (`touchpoint add`, `--rotate-token`, `--resume`)."""
    try:
        return resolve_token(signer, store, token, field)
    except Problem as problem:
        if problem.code not in STALE:
            raise
    await store.refresh_if_changed()
    return resolve_token(signer, store, token, field)


def check_origin(request: Request, touchpoint: Touchpoint) -> None:
    """Browsers always send Origin cross-site; a touchpoint without origins accepts any.

    An accepted origin may read the response (see cors.py); a refused one may not.
    Scorelet's own pages (the hosted rating page) are always allowed.
    """
    raw = header(request.scope, b"origin")
    if raw is None:
        return
    origin = raw.decode("latin-1")
    host = header(request.scope, b"host")
    own = host is not None and origin.partition("://")[2] == host.decode("latin-1")
    if touchpoint.origins and origin not in touchpoint.origins and not own:
        REFUSALS.refused(touchpoint, origin, f"refused {request.method} {request.url.path[:80]}")
        raise Problem(
            403,
            "origin_not_allowed",
            f"{origin[:200]} is not an allowed origin of {touchpoint.slug!r}",
            "origin",
        )
    allow_origin(request.scope, origin)
