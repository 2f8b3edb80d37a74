"""Destinations: where notifications go (Slack, Linear, a signed webhook). Pure.

A destination's secret part (a Slack webhook URL's path, a webhook's
`whsec_` signing secret, a Linear API key) is shown once, when it is
created, and masked everywhere after: it is needed in the clear to sign and
send, so it can't be stored hashed, but no API answer or listing repeats it.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scorelet.routing.rules import NAME

if TYPE_CHECKING:  # the views import this module's constants
    from scorelet.views import DestinationView

KINDS = ("slack", "webhook", "linear")
LINEAR_API = "https://api.linear.app/graphql"
MAX_URL = 2000
MAX_LABELS = 10
FIELDS = frozenset({"name", "type", "url", "api_key", "team", "priority", "labels", "api_url"})


class DestinationError(ValueError):
    def __init__(self, field: str, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class Destination:
    id: int
    name: str
    kind: str
    url: str  # Slack's webhook URL, the webhook's URL, or Linear's GraphQL endpoint
    secret: str | None  # the webhook's signing secret, or the Linear API key
    team: str | None = None
    priority: int | None = None
    labels: tuple[str, ...] = ()
    created_at: float = 0.0
    disabled_at: float | None = None
    disabled_reason: str | None = None

    def public(self) -> DestinationView:
        """The destination as the API and `destination show` give it: secrets masked."""
        data: DestinationView = {
            "name": self.name,
            "type": self.kind,
            "url": mask_url(self.url) if self.kind == "slack" else redact_query(self.url),
            "enabled": self.disabled_at is None,
            "disabled_reason": self.disabled_reason,
        }
        if self.kind == "webhook":
            data["secret"] = mask(self.secret)
        if self.kind == "linear":
            data["api_key"] = mask(self.secret)
            data["team"] = self.team
            data["priority"] = self.priority
            data["labels"] = list(self.labels)
        return data


@dataclass(frozen=True, slots=True)
class NewDestination:
    name: str
    kind: str
    url: str
    secret: str | None = None
    team: str | None = None
    priority: int | None = None
    labels: tuple[str, ...] = ()


def mask(secret: str | None) -> str | None:
    """`whsec_…Xy9Q`: enough to tell two secrets apart, too little to use."""
    if not secret:
        return None
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:8] else ""
    return f"{prefix}…{secret[-4:]}"


def mask_url(url: str) -> str:
    """A Slack webhook URL is itself the credential: keep the host, mask the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…{url[-4:]}"


def redact_query(url: str) -> str:
    """Query strings often carry tokens: leave them out of what is shown."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return shown + ("?…" if parts.query else "")


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(value: Any, field: str = "url") -> str:
    """An http(s) URL with a host and no credentials or fragment (reachability is apart)."""
    if not isinstance(value, str):
        raise DestinationError(field, f"{field} must be a string", "wrong_type")
    url = value.strip()
    if len(url) > MAX_URL:
        raise DestinationError(field, f"{field} is longer than {MAX_URL} characters")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise DestinationError(field, f"{field} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationError(field, f"{field} must be an http:// or https:// URL with a host")
    if parts.username or parts.password or "@" in parts.netloc:
        raise DestinationError(field, f"{field} must not carry a user name or password")
    if parts.fragment or re.search(r"\s", url):
        raise DestinationError(field, f"{field} must not have a #fragment or spaces")
    return url


def parse_destination(body: Mapping[str, Any]) -> NewDestination:
    """A checked destination from a JSON body or CLI flags (its address is checked apart)."""
    for key in body:
        if key not in FIELDS:
            raise DestinationError(
                str(key)[:64], f"unknown field {str(key)[:64]!r}", "unknown_field"
            )
    name = body.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise DestinationError(
            "name", "name must be 1-64 lowercase letters, digits, '-' or '_', like 'support-fires'"
        )
    kind = body.get("type")
    if kind not in KINDS:
        raise DestinationError("type", f"type must be one of {', '.join(KINDS)}")
    if kind == "linear":
        return _linear(name, body)
    for key in ("api_key", "team", "priority", "labels", "api_url"):
        if body.get(key) is not None:
            raise DestinationError(key, f"{key} is only for Linear destinations")
    if body.get("url") is None:
        raise DestinationError(
            "url", f"url is required: the {kind} URL to post to", "missing_field"
        )
    url = check_url(body["url"])
    if kind == "slack":
        return NewDestination(name, kind, url)
    return NewDestination(name, kind, url, new_signing_secret())


def _linear(name: str, body: Mapping[str, Any]) -> NewDestination:
    if body.get("url") is not None:
        raise DestinationError("url", "Linear destinations take api_url (default: Linear's own)")
    key = body.get("api_key")
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]{8,200}", key.strip()):
        raise DestinationError(
            "api_key", "api_key is required: a Linear personal API key (lin_api_...)"
        )
    team = body.get("team")
    if not isinstance(team, str) or not re.fullmatch(r"[A-Za-z0-9-]{1,64}", team):
        raise DestinationError("team", "team is required: the Linear team's id (a UUID)")
    priority = body.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 4
    ):
        raise DestinationError(
            "priority", "priority must be 0-4 (0 none, 1 urgent, 2 high, 3 medium, 4 low)"
        )
    labels = body.get("labels") or []
    if not isinstance(labels, list) or not all(
        isinstance(label, str) and 0 < len(label) <= 80 for label in labels
    ):
        raise DestinationError("labels", "labels must be a list of label names", "wrong_type")
    if len(labels) > MAX_LABELS:
        raise DestinationError("labels", f"at most {MAX_LABELS} labels")
    api_url = check_url(body.get("api_url") or LINEAR_API, "api_url")
    return NewDestination(
        name, "linear", api_url, key.strip(), team, priority, tuple(dict.fromkeys(labels))
    )
