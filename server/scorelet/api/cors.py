"""CORS for the public endpoints the widget calls from other sites.

Submissions carry no cookies or credentials, so any origin may read the
answer to its own request; which origins may *submit* is the touchpoint's
`origins` list, checked in the handler. Read and admin endpoints send no
CORS headers at all.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PREFIXES = ("/api/v1/responses", "/api/v1/impressions")
PREFLIGHT_HEADERS = {
    "access-control-allow-methods": "POST, PATCH",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}


class PublicCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            headers = {"access-control-allow-origin": origin, "vary": "Origin", **PREFLIGHT_HEADERS}
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["access-control-allow-origin"] = origin
                headers.append("vary", "Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)
