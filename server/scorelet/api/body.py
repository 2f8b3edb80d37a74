"""Reading request bodies: size-limited while streaming, strict JSON, one object.

Strict means what RFC 8259 says and nothing a guess would add: the body is
UTF-8 (a leading UTF-8 byte-order mark is skipped, as the RFC allows; UTF-16
and UTF-32 are refused, and so is a declared charset other than UTF-8), not
compressed, and an object names each key once, since `{"score": 1,
"score": 5}` means different things to different parsers. JSON's `-0` is
kept as the float it is (Python would read it as the integer 0), so it
fails every integer field instead of passing for a 0. Any other number without
a fractional part (`4.0`, `1e2`) is that integer, as JSON Schema and JavaScript
read it; `4.5` stays a float and fails an integer field.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from scorelet.errors import Problem

# text/plain lets the widget post cross-origin without a CORS preflight.
JSON_TYPES = frozenset({"application/json", "text/plain"})


BOM = b"\xef\xbb\xbf"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key[:64]!r} appears more than once")
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def _integer(text: str) -> int | float:
    return -0.0 if text == "-0" else int(text)


def _number(text: str) -> int | float:
    value = float(text)
    if value.is_integer() and not (value == 0 and text.startswith("-")):
        return int(value)
    return value


_DECODER = json.JSONDecoder(
    parse_constant=_no_constants,
    object_pairs_hook=_object,
    parse_int=_integer,
    parse_float=_number,
)


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
    media_type, declared, encoding = b"", b"", b""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            media_type = value
        elif name == b"content-length":
            declared = value
        elif name == b"content-encoding":
            encoding = value
    _check_type(media_type)
    if encoding.strip().lower() not in (b"", b"identity"):
        raise Problem(
            415,
            "unsupported_media_type",
            f"Content-Encoding {encoding.decode('latin-1')[:32]!r} is not accepted;"
            " send the body uncompressed",
            "content-encoding",
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
    return decode(body)


def _check_type(media_type: bytes) -> None:
    kind, _, parameters = media_type.decode("latin-1").partition(";")
    if kind.strip().lower() not in JSON_TYPES:
        raise Problem(
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json (or text/plain)",
            "content-type",
        )
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise Problem(
                415,
                "unsupported_media_type",
                f"charset {value.strip()[:32]!r} is not accepted: JSON is UTF-8 (RFC 8259)",
                "content-type",
            )


def decode(body: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object (see the module docstring for what strict means)."""
    if body.startswith(BOM):
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "malformed_json", _not_utf8(body)) from None
    try:
        data = _DECODER.decode(text)
    except DuplicateKey as error:
        raise Problem(400, "malformed_json", f"the body is ambiguous: {error}", error.key) from None
    except (ValueError, RecursionError) as error:
        raise Problem(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise Problem(400, "malformed_json", "the body must be a JSON object")
    return data


def _not_utf8(body: bytes) -> str:
    guess = json.detect_encoding(body)
    named = f" (it looks like {guess.upper()})" if guess != "utf-8" else ""
    return f"the body is not UTF-8{named}; JSON must be UTF-8 (RFC 8259)"
