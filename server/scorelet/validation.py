"""Field rules shared by the HTTP API, the CLI and the Python helpers.

Every check raises a `Problem` naming the field, so a bad value is refused
the same way wherever it comes from. No I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scorelet.errors import Problem, invalid

MAX_COMMENT = 2000
MAX_SUBJECT = 200
MAX_CONTEXT_KEYS = 20
MAX_CONTEXT_KEY = 40
MAX_CONTEXT_VALUE = 200
MAX_ORIGINS = 50

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# A rule's, destination's or digest's name: like a slug, and `_` too.
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
CONTEXT_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
LOCALE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
# Query parameters of the score endpoints; a context key can't shadow them.
RESERVED_KEYS = frozenset(
    {
        "since",
        "until",
        "by",
        "interval",
        "tz",
        "format",
        "cursor",
        "limit",
        "subject",
        "token",
        "min_score",
        "max_score",
        "has_comment",
        "touchpoints",
        "tag",
        "tags",
    }
)
# Control characters (Unicode category Cc: U+0000-001F, U+007F-009F) and lone surrogates
# (Cs), found by one regex search instead of a category lookup per character.
# The same rules as JSON Schema patterns, for /openapi.json: a line of text, and a subject
# (a line with something besides whitespace in it).
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"  # tab, CR, LF
SUBJECT_PATTERN = (
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f]"
    "[^\\u0000-\\u001f\\u007f-\\u009f]*$"
)
# A host name as DNS has it (labels of letters, digits and inner hyphens), and a port.
_DNS_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DNS_HOST = re.compile(f"{_DNS_LABEL}(?:\\.{_DNS_LABEL})*")
PORT_PATTERN = (
    "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
)
# A part of what the URL checks accept, for JSON Schema: a lowercase host of up to four labels,
# and an http(s) URL on one with an optional port and path.
HOST_PATTERN = (
    "[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?){0,3}"
)
URL_PATTERN = f"^https?://{HOST_PATTERN}(?::[1-9][0-9]{{0,3}})?(?:/[A-Za-z0-9._~%/-]{{0,200}})?$"
_BAD_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def wrong_type(field: str, expected: str) -> Problem:
    return invalid(field, f"{field} must be {expected}", code="wrong_type")


def check_slug(slug: Any, field: str = "slug") -> str:
    if not isinstance(slug, str):
        raise wrong_type(field, "a string")
    if not SLUG.fullmatch(slug):
        raise invalid(
            field,
            f"{field} must be 1-64 lowercase letters, digits or inner hyphens, like 'checkout'",
        )
    return slug


def check_text(value: Any, field: str, max_length: int, multiline: bool = False) -> str:
    """A string of at most `max_length` characters with no control characters or NULs."""
    if not isinstance(value, str):
        raise wrong_type(field, "a string")
    if len(value) > max_length:
        raise invalid(field, f"{field} is longer than {max_length} characters", code="too_long")
    found = (_BAD_MULTILINE if multiline else _BAD_LINE).search(value)
    if found is None:
        return value
    char = found.group()
    if unicodedata.category(char) == "Cs":
        raise invalid(field, f"{field} contains an unpaired surrogate", code="invalid_text")
    raise invalid(
        field, f"{field} contains a control character (U+{ord(char):04X})", "invalid_text"
    )


def check_optional_text(
    value: Any, field: str, max_length: int, multiline: bool = False
) -> str | None:
    """Like check_text, but None and the empty string both mean "not set"."""
    if value is None:
        return None
    text = check_text(value, field, max_length, multiline)
    return text if text.strip() else None


def check_subject(value: Any, field: str = "subject") -> str:
    subject = check_text(value, field, MAX_SUBJECT)
    if not subject.strip():
        raise invalid(field, f"{field} must not be empty")
    return subject


def check_context(value: Any, field: str = "context") -> dict[str, str]:
    """A small map of string to string, such as {"agent": "alice", "plan": "pro"}."""
    if not isinstance(value, dict):
        raise wrong_type(field, "an object of string values")
    if len(value) > MAX_CONTEXT_KEYS:
        raise invalid(
            field, f"{field} has more than {MAX_CONTEXT_KEYS} keys", code="too_many_context_keys"
        )
    for key, item in value.items():
        check_context_key(key, f"{field}.{key[:MAX_CONTEXT_KEY]}")
        check_text(item, f"{field}.{key}", MAX_CONTEXT_VALUE)
    return dict(value)


def check_context_key(key: str, field: str) -> str:
    if not key or len(key) > MAX_CONTEXT_KEY or not CONTEXT_KEY.fullmatch(key):
        raise invalid(
            field,
            f"context keys are 1-{MAX_CONTEXT_KEY} letters, digits, '_', '.' or '-'",
            code="bad_context_key",
        )
    if key in RESERVED_KEYS:
        raise invalid(field, f"{key!r} is reserved and can't be a context key", "bad_context_key")
    return key


def check_name(value: str, field: str = "name") -> str:
    """A rule's, destination's or digest's name."""
    if not NAME.fullmatch(value):
        raise invalid(
            field, f"{field} must be 1-64 lowercase letters, digits, '-' or '_', like 'fires'"
        )
    return value


def check_origin(value: Any, field: str = "origins") -> str:
    """Normalise an allowed origin to scheme://host[:port]."""
    if not isinstance(value, str):
        raise wrong_type(field, "a list of strings")
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        raise invalid(field, f"{value!r} is not an origin like https://shop.example.com") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise invalid(field, f"{value!r} is not an origin like https://shop.example.com")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise invalid(field, f"{value!r} is not an origin like https://shop.example.com")
    try:
        port = parts.port
    except ValueError:
        raise invalid(field, f"{value!r} has an invalid port") from None
    host = _origin_host(parts.hostname, value, field)
    # Browsers leave the scheme's default port out of the Origin header they send.
    if port == _DEFAULT_PORTS[parts.scheme]:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _origin_host(host: str, value: str, field: str) -> str:
    """The host as a browser's Origin header spells it: DNS labels (an international name
    in its xn-- form) or an IP address; anything else could never match one."""
    if ":" in host:
        try:
            return f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            raise invalid(field, f"{value!r} has an invalid IPv6 address") from None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if not DNS_HOST.fullmatch(ascii_host):
        raise invalid(field, f"{value!r} is not an origin like https://shop.example.com")
    return ascii_host


def check_origins(value: Any, field: str = "origins") -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise wrong_type(field, "a list of origins")
    if len(value) > MAX_ORIGINS:
        raise invalid(field, f"at most {MAX_ORIGINS} origins per touchpoint")
    return tuple(dict.fromkeys(check_origin(item, field) for item in value))


def check_locale(value: Any, field: str = "locale") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not LOCALE.fullmatch(value) or len(value) > 35:
        raise invalid(field, f"{field} must be a language tag such as 'en' or 'pt-BR'")
    return value


def check_int(value: Any, field: str, low: int, high: int) -> int:
    """An integer in [low, high]; booleans and floats like 4.0 are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(field, "an integer")
    if not low <= value <= high:
        raise invalid(field, f"{field} must be between {low} and {high}", "out_of_range")
    return value


def check_uuid(value: Any, field: str = "id") -> str:
    if not isinstance(value, str):
        raise wrong_type(field, "a UUID string")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise invalid(field, f"{field} must be a UUID such as {uuid.uuid4()}") from None
    if len(value) != 36:
        raise invalid(field, f"{field} must be a UUID in its 36-character form")
    return str(parsed)


def only_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Refuse unknown fields, so a typo like `scroe` fails loudly instead of vanishing."""
    for name in body:
        if name not in allowed:
            raise invalid(str(name)[:64], f"unknown field {str(name)[:64]!r}", "unknown_field")


def require(body: Mapping[str, Any], name: str) -> Any:
    if name not in body or body[name] is None:
        raise invalid(name, f"{name} is required", code="missing_field")
    return body[name]
