"""Reading request bodies: size-limited while streaming, strict JSON, one object."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from scorelet.errors import Problem

# text/plain lets the widget post cross-origin without a CORS preflight.
JSON_TYPES = frozenset({"application/json", "text/plain"})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def too_large(limit: int) -> Problem:
    # Closing the connection stops the server reading (and discarding) the rest.
    return Problem(
        413,
        "body_too_large",
        f"the request body is larger than {limit} bytes",
        headers={"Connection": "close"},
    )


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object; refuses oversized bodies without buffering them.

    Every rating comes through here, so it reads the two headers it needs in
    one pass over the raw list and the body straight from `receive`.
    """
    media_type, declared = b"", b""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            media_type = value
        elif name == b"content-length":
            declared = value
    if media_type.split(b";")[0].strip().lower().decode("latin-1") not in JSON_TYPES:
        raise Problem(
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json (or text/plain)",
        )
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = b""
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body += message.get("body", b"")
        if len(body) > limit:
            raise too_large(limit)
        if not message.get("more_body", False):
            break
    try:
        # What json.loads(body, parse_constant=...) does, minus building a decoder per call.
        data = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError) as error:
        raise Problem(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise Problem(400, "malformed_json", "the body must be a JSON object")
    return data
