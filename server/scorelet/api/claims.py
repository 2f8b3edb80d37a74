"""Whether a page's origin may use a touchpoint, and may read the answer (CORS)."""

from __future__ import annotations

from starlette.requests import Request

from scorelet.api.headers import header
from scorelet.api.middleware.cors import allow_origin
from scorelet.api.refusals import REFUSALS
from scorelet.errors import Problem
from scorelet.touchpoints import Touchpoint


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
