"""Headers: security headers for every answer, and reading a request's raw ones.

HTML pages (the hosted rating page `/r/{token}`) build their headers with
`html_headers`: a Content-Security-Policy that allows only this server's own
scripts, styles and requests (the widget needs no inline script, inline style
or eval), the framing policy from SCORELET_FRAME_ANCESTORS, and no Referer,
because the page's URL carries a token. `Guard` adds
`X-Content-Type-Options: nosniff` to every response that doesn't set it, so
no JSON or JavaScript answer can be sniffed into something else.
"""

from __future__ import annotations

from starlette.types import Scope

NOSNIFF = (b"x-content-type-options", b"nosniff")


def header(scope: Scope, name: bytes) -> bytes | None:
    """A request header's raw value (`name` in lower case), read straight from the scope.

    For the polled paths: cheaper than building Starlette's `Headers` for one lookup.
    """
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def content_security_policy(
    frame_ancestors: str, style_src: str = "'self'", img_src: str = "'self' data:"
) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {style_src}",
            f"img-src {img_src}",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


def html_headers(
    frame_ancestors: str, style_src: str = "'self'", img_src: str = "'self' data:"
) -> dict[str, str]:
    """Headers for an HTML page; pass `style_src` (e.g. a `'sha256-...'`) for inline CSS,
    `img_src` for images from elsewhere (a brand's logo)."""
    headers = {
        "Content-Security-Policy": content_security_policy(frame_ancestors, style_src, img_src),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    if frame_ancestors.strip() == "'none'":
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers
