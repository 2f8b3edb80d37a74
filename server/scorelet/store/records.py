"""Plain records the store hands out; no rows, no connections."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scorelet.routing.destinations import Destination
from scorelet.timeutil import iso

if TYPE_CHECKING:  # the views import this module's constants
    from scorelet.views import DeliveryView, DigestView, IssueView, RatingView, TagView


def time_ordered_id(now: float) -> str:
    """A new rating's id: a UUIDv7 (RFC 9562), 48 bits of Unix milliseconds, 74 random.

    Ids that sort by time make the primary-key index grow at its end instead
    of in random pages. Measured on 700k ratings (bench/README.md): a third
    less time per stored rating, half the commit p99, and no growth with
    the table's size, where random ids got slower as the table grew.
    """
    return timed_uuid(now, _RANDOM.bits74(), version=7)


class _Pool(threading.local):
    """Random bits from the operating system's CSPRNG, fetched a page at a time per thread.

    Each fetch is a system call that lets go of the GIL; the writer thread,
    which makes the ids, then waits for the event loop to hand it back (up
    to the 5 ms switch interval). One fetch per 400 ids instead of one per
    id: bench/routing.py measured the difference on the writer's path.
    """

    SIZE = 4000  # bytes: 400 ids of 10

    def __init__(self) -> None:
        self.empty()

    def empty(self) -> None:
        self.page = b""
        self.at = self.SIZE

    def bits74(self) -> int:
        if self.at >= self.SIZE:
            self.page, self.at = secrets.token_bytes(self.SIZE), 0
        chunk = self.page[self.at : self.at + 10]
        self.at += 10
        return int.from_bytes(chunk, "big") >> 6


_RANDOM = _Pool()
# A forked child must not hand out the ids left in its parent's page.
os.register_at_fork(after_in_child=_RANDOM.empty)


def timed_uuid(at: float, bits: int, version: int) -> str:
    """A UUID of RFC 9562's time-first layout: `at` in milliseconds, then 74 `bits`
    (random for version 7, a hash for version 8: an id that is the same each time)."""
    value = (
        (int(at * 1000) & 0xFFFF_FFFF_FFFF) << 80
        | version << 76
        | (bits >> 62) << 64
        | 0b10 << 62  # the RFC 9562 variant
        | (bits & (2**62 - 1))
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag on a rating: added by hand (`manual`) or by a tagging rule, with its words."""

    name: str
    source: str = "manual"  # "manual" or "rule"
    rule: str | None = None
    matched: tuple[str, ...] = ()  # what a rule's comment pattern matched

    def public(self) -> TagView:
        return {
            "tag": self.name,
            "source": self.source,
            "rule": self.rule,
            "matched": list(self.matched),
        }


@dataclass(frozen=True, slots=True)
class IssueLink:
    """An issue a notify rule created for a rating (Linear): kept on the rating."""

    destination: str
    identifier: str
    url: str

    def public(self) -> IssueView:
        return {"destination": self.destination, "identifier": self.identifier, "url": self.url}


@dataclass(frozen=True, slots=True)
class Response:
    id: str
    touchpoint_id: int
    score: int
    comment: str | None
    subject: str | None
    context: Mapping[str, str]
    created_at: float
    updated_at: float
    shown: bool = False  # given through a widget that had counted its impression
    tags: tuple[Tag, ...] = ()
    issues: tuple[IssueLink, ...] = ()
    person: str | None = None  # the identified person who gave it

    def public(self, slug: str) -> RatingView:
        created = iso(self.created_at)
        return {
            "id": self.id,
            "touchpoint": slug,
            "score": self.score,
            "comment": self.comment,
            "subject": self.subject,
            "person": self.person,
            "context": dict(self.context),
            "created_at": created,
            # A new rating's two times are one float: format it once.
            "updated_at": created if self.updated_at == self.created_at else iso(self.updated_at),
            "tags": [tag.public() for tag in self.tags],
            "issues": [issue.public() for issue in self.issues],
        }


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str | None
    scope: str
    hash: str
    created_at: float
    revoked_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """A person an identity token named, with the traits it carried."""

    person: str
    traits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Person:
    """What is stored about a person: the traits their latest token carried, and when seen."""

    id: str
    traits: Mapping[str, str]
    first_seen_at: float
    last_seen_at: float

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "traits": dict(self.traits),
            "first_seen_at": iso(self.first_seen_at),
            "last_seen_at": iso(self.last_seen_at),
        }


@dataclass(frozen=True, slots=True)
class Display:
    """The widget shown to a person, or closed by them."""

    touchpoint_id: int
    kind: str  # "shown" or "dismissed"
    at: float


@dataclass(frozen=True, slots=True)
class NewResponse:
    """A rating to record: a fresh one, a re-post of a client id, or a subject's new rating."""

    touchpoint_id: int
    score: int
    comment: str | None
    subject: str | None
    context: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    edit_window: float | None = None  # seconds after creation it may change; None: no limit
    client: str | None = None  # the browser's random id: its earlier rating is replaced
    shown: bool = False  # sent by a widget that counted its impression (response rates)
    identity: Identity | None = None  # the signed-in person who gives it


@dataclass(frozen=True, slots=True)
class ResponseQuery:
    """Which responses to list or export."""

    touchpoint_id: int
    since: float | None = None
    until: float | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    min_score: int | None = None
    max_score: int | None = None
    has_comment: bool | None = None
    subject: str | None = None
    tag: str | None = None  # only ratings carrying this tag
    # Words every listed comment must contain, case-folded (search.py); () lists all.
    search: tuple[str, ...] = ()
    person: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification in the outbox: to one destination, for a rating or a digest."""

    id: str
    destination: str
    kind: str  # "rating" or "digest"
    rule: str | None
    event: str | None  # created, updated, commented (ratings); None (digests)
    response_id: str | None
    state: str  # pending, failed (will retry), delivered, dead (gave up)
    attempts: int
    due_at: float
    held: bool  # waiting for the rating's comment
    last_status: int | None
    last_error: str | None
    created_at: float
    updated_at: float

    def public(self) -> DeliveryView:
        return {
            "id": self.id,
            "destination": self.destination,
            "kind": self.kind,
            "rule": self.rule,
            "event": self.event,
            "response_id": self.response_id,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.due_at) if self.state in ("pending", "failed") else None,
            "waiting_for_comment": self.held,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt went, for `finish_delivery`."""

    state: str  # delivered, failed (retry at `retry_at`) or dead
    status: int | None = None
    error: str | None = None
    retry_at: float | None = None
    issue: IssueLink | None = None  # the issue a Linear delivery created
    disable: str | None = None  # the receiver is gone (410): disable the destination, why


@dataclass(frozen=True, slots=True)
class Digest:
    id: int
    name: str
    destination: str
    every: str  # week, month, quarter
    touchpoints: tuple[str, ...]  # empty: all
    tz: str
    at: str  # "mon 09:00" (weekly) or "09:00"
    last_period: str | None  # the last period queued, e.g. "2026-W47", "2026-11", "2026-Q4"
    created_at: float

    def public(self) -> DigestView:
        return {
            "name": self.name,
            "destination": self.destination,
            "every": self.every,
            "touchpoints": list(self.touchpoints),
            "tz": self.tz,
            "at": self.at,
            "last_period": self.last_period,
        }


@dataclass(frozen=True, slots=True)
class Backfilled:
    """One step of a backfill: ratings looked at, ratings tagged, where to go on (None: done)."""

    seen: int
    tagged: int
    cursor: int | None
    touchpoints: tuple[int, ...] = ()  # whose ratings' tags changed


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to one worker, with what it needs to send it."""

    delivery: Delivery
    destination: Destination
    response: Response | None  # the rating as it is now (None: a digest, or it was deleted)
    payload: str | None  # a digest's content (JSON)


ROLES = ("admin", "viewer")


@dataclass(frozen=True, slots=True)
class User:
    """A dashboard account. `session_version` is in every session cookie: bumping it
    (logout, password reset, removal) ends every session the account has open."""

    id: str
    email: str  # lower case: one account per address whatever its spelling
    role: str  # admin | viewer
    password_hash: str | None  # None until the one-time link has been used
    session_version: int
    created_at: float
    updated_at: float

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "password_set": self.password_hash is not None,
            "created_at": iso(self.created_at),
        }
