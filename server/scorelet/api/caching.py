"""Cheap polling: answers cached by generation, strong ETags, 304s.

An answer is computed once per change of the numbers behind it (the store's
generation counters) and kept as bytes. Its ETag is a hash of those bytes,
so it changes exactly when the answer does; a client sending the same ETag
in If-None-Match gets a 304 without the answer being recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scorelet.api.headers import NOSNIFF, header

MAX_AGE = 5
CACHE_CONTROL = (b"cache-control", f"private, max-age={MAX_AGE}".encode())


@dataclass(frozen=True, slots=True)
class Cached:
    """An answer as bytes, with the headers of its 200 and its 304 made once."""

    generation: int
    body: bytes
    etag: str
    headers_200: list[tuple[bytes, bytes]]
    headers_304: list[tuple[bytes, bytes]]


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


# One encoder for every answer: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode(data: Any) -> bytes:
    return _ENCODER.encode(data).encode()


def prepare(data: Any, generation: int = 0) -> Cached:
    body = encode(data)
    etag = etag_of(body)
    # nosniff first: Guard looks for it before adding its own.
    headers_304 = [NOSNIFF, (b"etag", etag.encode()), CACHE_CONTROL]
    headers_200 = [
        *headers_304,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    return Cached(generation, body, etag, headers_200, headers_304)


class AnswerCache:
    """A bounded LRU of answers, each valid for one generation."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, Cached] = OrderedDict()

    def get(self, key: Hashable, generation: int) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None or entry.generation != generation:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, generation: int, data: Any) -> Cached:
        entry = prepare(data, generation)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry


def answer(request: Request, cached: Cached) -> Response:
    """200 with the body, or 304 when the client already holds this ETag."""
    if_none_match = header(request.scope, b"if-none-match")
    if if_none_match and _matches(if_none_match.decode("latin-1"), cached.etag):
        return Prepared(304, b"", cached.headers_304)
    return Prepared(200, cached.body, cached.headers_200)


class Prepared(Response):
    """A response whose raw headers are already made: polls skip building them."""

    def __init__(self, status: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.raw_headers = raw_headers


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
