"""CORS for the public endpoints the widget calls from other sites.

Which origins may use a touchpoint is only known once the handler has
verified the token in the body, so the handler decides: `allow_origin`
(called by `check_origin` in claims.py once the origin passes) marks the
request, and `Guard` adds `Access-Control-Allow-Origin` to marked
responses only. An origin a touchpoint doesn't list never gets CORS headers,
not even on its 403; nor does a request refused before its token was
checked. A touchpoint without origins accepts any, and so echoes any.

Preflights (OPTIONS) carry no body, hence no token: they are answered for any
origin, which only lets the browser send the real request for the handler to
judge. Submissions carry no cookies or credentials. Read and admin endpoints
send no CORS headers at all.
"""

from __future__ import annotations

from starlette.types import Scope, Send

PUBLIC_PREFIXES = (
    "/api/v1/responses",
    "/api/v1/impressions",
    "/api/v1/dismissals",
    "/api/v1/eligibility",
)
ALLOWED = "scorelet.cors_origin"
PREFLIGHT_HEADERS = {
    "access-control-allow-methods": "POST, PATCH",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}


def allow_origin(scope: Scope, origin: str) -> None:
    """Let `origin` read this request's response (success or problem)."""
    scope[ALLOWED] = origin


async def preflight(scope: Scope, send: Send) -> bool:
    """Answer a CORS preflight (any origin: see above); False if it isn't one."""
    origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
    if origin is None:
        return False
    headers = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
    headers += [(k.encode(), v.encode()) for k, v in PREFLIGHT_HEADERS.items()]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    return True
