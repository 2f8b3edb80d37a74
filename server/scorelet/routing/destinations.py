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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the views and shapes import this module's constants
    from scorelet.shapes import DestinationBody
    from scorelet.views import DestinationView

KINDS = ("slack", "webhook", "linear")
LINEAR_API = "https://api.linear.app/graphql"
MAX_URL = 2000
MAX_LABELS = 10
MAX_LABEL = 80
LINEAR_ONLY = ("api_key", "team", "priority", "labels", "api_url")
LINEAR_KEY = re.compile(r"^[A-Za-z0-9_-]{8,200}$")
LINEAR_TEAM = re.compile(r"^[A-Za-z0-9-]{1,64}$")


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
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        raise DestinationError(field, f"{field} is not a URL: {url[:64]!r}") from None
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


def parse_destination(body: DestinationBody) -> NewDestination:
    """A checked destination from its decoded body (its address is checked apart)."""
    if body.type not in KINDS:
        raise DestinationError("type", f"type must be one of {', '.join(KINDS)}")
    if body.type == "linear":
        return _linear(body)
    for key in LINEAR_ONLY:
        if getattr(body, key) is not None:
            raise DestinationError(key, f"{key} is only for Linear destinations")
    if body.url is None:
        raise DestinationError(
            "url", f"url is required: the {body.type} URL to post to", "missing_field"
        )
    url = check_url(body.url)
    if body.type == "slack":
        return NewDestination(body.name, body.type, url)
    return NewDestination(body.name, body.type, url, new_signing_secret())


def _linear(body: DestinationBody) -> NewDestination:
    if body.url is not None:
        raise DestinationError("url", "Linear destinations take api_url (default: Linear's own)")
    key = (body.api_key or "").strip()
    if not LINEAR_KEY.fullmatch(key):
        raise DestinationError(
            "api_key", "api_key is required: a Linear personal API key (lin_api_...)"
        )
    if body.team is None or not LINEAR_TEAM.fullmatch(body.team):
        raise DestinationError("team", "team is required: the Linear team's id (a UUID)")
    if body.priority is not None and not 0 <= body.priority <= 4:
        raise DestinationError(
            "priority", "priority must be 0-4 (0 none, 1 urgent, 2 high, 3 medium, 4 low)"
        )
    labels = body.labels or []
    if not all(0 < len(label) <= MAX_LABEL for label in labels):
        raise DestinationError("labels", f"each of labels must be 1-{MAX_LABEL} characters")
    if len(labels) > MAX_LABELS:
        raise DestinationError("labels", f"at most {MAX_LABELS} labels")
    api_url = check_url(body.api_url or LINEAR_API, "api_url")
    return NewDestination(
        body.name, "linear", api_url, key, body.team, body.priority, tuple(dict.fromkeys(labels))
    )
