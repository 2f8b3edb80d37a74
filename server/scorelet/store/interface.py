"""The storage interface: the domain operations every backend provides.

A backend (`store/sqlite/`, `store/postgres/`) is the only place with SQL in
it. It stores raw ratings as the truth and folds them into rollups in
batches (see rollups.py); its reads add what was committed after the last
fold, so every count is exact at every instant. It raises the exceptions of
store/errors.py and tells its listener about every change it commits, in
commit order, so the cache above it (store/cache.py) can keep registry,
totals and change generations in memory without asking the database.

Times are epoch seconds; `now` is passed in so rules about time (edit
windows) are tested with a chosen clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scorelet.displays import Displays
from scorelet.eligibility import Seen
from scorelet.rollups import Counted
from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule
from scorelet.store.records import (
    ApiKey,
    Backfilled,
    Claimed,
    Delivery,
    Digest,
    Display,
    Identity,
    NewResponse,
    Outcome,
    Person,
    Response,
    ResponseQuery,
    User,
)
from scorelet.touchpoints import Touchpoint

Counts = dict[int, int]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A stored rating and the version it replaced (None: a new rating)."""

    response: Response
    previous: Response | None = None

    @property
    def created(self) -> bool:
        return self.previous is None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the cache keeps in memory, read at one instant."""

    touchpoints: Sequence[Touchpoint]
    keys: Sequence[ApiKey]
    totals: Mapping[int, Counts]  # all-time score counts per touchpoint
    displays: Mapping[int, Displays]  # all-time impressions and the ratings they led to
    # per touchpoint, a counter moved whenever tags or issues change and no count shows it
    # (by hand, a backfill, a created issue, a comment's retagging): another process's
    # listings and tag-filtered numbers moved
    marks: Mapping[int, int] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)  # install-wide (the throttle)


@dataclass(frozen=True, slots=True)
class Registry:
    """What a copy carries besides ratings and impressions."""

    touchpoints: Sequence[Touchpoint]  # with their token versions
    retired: Mapping[str, int]  # a deleted touchpoint's slug -> its last token version
    keys: Sequence[ApiKey]  # hashed, revoked ones too
    users: Sequence[User] = ()  # dashboard accounts, password hashes and all
    settings: Mapping[str, str] = field(default_factory=dict)
    people: Sequence[Person] = ()  # identified people's traits


@dataclass(frozen=True, slots=True)
class History:
    """Everything stored about one person, for `GET /api/v1/people/{id}`."""

    person: Person | None
    responses: Sequence[Response]  # newest first, across touchpoints
    displays: Sequence[Display]  # newest first, across touchpoints


# The bounds of the batch-size histogram a backend's writer reports (for /metrics).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True, slots=True)
class Health:
    """Whether ratings can be committed now, and the writer's figures for /metrics."""

    ok: bool
    error: str | None = None
    queue_depth: int = 0
    batches: int = 0
    writes: int = 0
    batch_sizes: Sequence[int] = ()  # batches with at most BATCH_BUCKETS[i] writes


# -- changes, as the listener sees them, in commit order ---------------------------------


@dataclass(frozen=True, slots=True)
class Rated:
    response: Response
    previous: Response | None


@dataclass(frozen=True, slots=True)
class Imported:
    """Ratings stored as they were given elsewhere (an import, a copy, a bulk load)."""

    responses: Sequence[Response]


@dataclass(frozen=True, slots=True)
class Commented:
    response: Response
    retagged: bool = False  # tagging rules changed its tags: tag-filtered numbers moved


@dataclass(frozen=True, slots=True)
class Annotated:
    """Tags or issues of ratings of a touchpoint changed (by hand, a backfill, an issue)."""

    touchpoint_id: int


@dataclass(frozen=True, slots=True)
class Deleted:
    response: Response


@dataclass(frozen=True, slots=True)
class Shown:
    touchpoint_id: int


@dataclass(frozen=True, slots=True)
class Forgotten:
    """A person erased: the ratings removed and the impressions taken back per touchpoint."""

    person: str
    responses: Sequence[Response]
    impressions: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class SettingSaved:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class TouchpointSaved:
    touchpoint: Touchpoint


@dataclass(frozen=True, slots=True)
class TouchpointRemoved:
    touchpoint: Touchpoint


@dataclass(frozen=True, slots=True)
class KeySaved:
    key: ApiKey


@dataclass(frozen=True, slots=True)
class Reloaded:
    """Something changed that this process didn't commit (the CLI, another server):
    take the whole state afresh. `listed` names touchpoints whose ratings may have
    changed in ways the totals don't show (a comment); -1 stands for all."""

    snapshot: Snapshot
    listed: frozenset[int] = frozenset()


Change = (
    Rated
    | Imported
    | Commented
    | Annotated
    | Deleted
    | Shown
    | Forgotten
    | SettingSaved
    | TouchpointSaved
    | TouchpointRemoved
    | KeySaved
    | Reloaded
)
Listener = Callable[[Change], None]


@dataclass(frozen=True, slots=True)
class RollupCheck:
    """Rollups as stored (plus what is committed after the fold) beside a recount of raw rows."""

    stored: Mapping[str, Mapping[Any, int]]
    recounted: Mapping[str, Mapping[Any, int]]

    @property
    def equal(self) -> bool:
        return self.stored == self.recounted


class Backend(Protocol):
    """One storage engine behind Scorelet. Every method may raise `Unavailable`."""

    created: bool  # this open made the database (the first start: demos go in)

    def listen(self, listener: Listener) -> None:
        """Call `listener` with every change committed from now on, in commit order."""

    async def snapshot(self) -> Snapshot:
        """The registry and all-time counts, in order with this backend's commits."""
        ...

    # -- ratings ---------------------------------------------------------------------

    async def record(self, new: NewResponse, now: float) -> Recorded:
        """Store a rating. One per subject and, within the edit window, one per browser
        (`client`): a later one replaces it. An `id` may only name the caller's own rating
        (Refused id_conflict) and only within `new.edit_window` (Refused edit_window_closed)."""
        ...

    async def comment(
        self,
        response_id: str,
        comment: str | None,
        touchpoint_id: int,
        subject: str | None,
        edit_window: float | None,
        now: float,
    ) -> Response:
        """Set or clear a rating's comment, for the token it was given with."""
        ...

    async def import_ratings(self, ratings: Sequence[Response]) -> int:
        """Store ratings as they are (ids, times, comments, context), skipping any whose id
        or subject is already stored; returns how many were new. They count like any
        other from this instant on, and are folded with the rest."""
        ...

    async def delete_response(self, response_id: str) -> Response:
        """Remove a rating from the raw rows and, by the next fold, from every rollup."""
        ...

    async def record_impression(
        self, touchpoint_id: int, identity: Identity | None, now: float
    ) -> None:
        """Count a display in its hour; an identified one is also kept for the person."""
        ...

    async def record_dismissal(self, touchpoint_id: int, identity: Identity, now: float) -> None:
        """A person closed the widget (never an answer)."""
        ...

    # -- people ------------------------------------------------------------------------

    async def seen(self, person: str) -> dict[int, Seen]:
        """Per touchpoint: the person's answers, displays and dismissals (count, last time),
        what eligibility needs; one cheap indexed read."""
        ...

    async def history(self, person: str) -> History:
        """The person's traits, ratings and displays across touchpoints."""
        ...

    async def forget_person(self, person: str) -> Forgotten:
        """Erase a person's ratings (folded out of every rollup), displays (and the
        impressions they were counted as) and traits, in one transaction."""
        ...

    async def save_setting(self, name: str, value: str) -> None: ...

    async def response(self, response_id: str) -> Response | None: ...

    async def counts(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> Counts:
        """Exact score counts for [since, until), a context filter and (optionally) a tag."""
        ...

    async def displays(
        self, touchpoint_id: int, since: float | None, until: float | None
    ) -> Displays:
        """Impressions, and the ratings they led to, in the hours that start inside
        [since, until)."""
        ...

    async def context_keys(self, touchpoint_id: int) -> list[str]:
        """Every context key the touchpoint's ratings carry, sorted (export columns)."""
        ...

    async def series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[tuple[Counts, Displays | None]]:
        """Counts (and displays, None under filters or a tag) per [start, end) bucket, in one
        read."""
        ...

    async def tag_series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> list[dict[str, int]]:
        """How many ratings carry each tag, per [start, end) bucket (spikes), in one read;
        with `tag`, among the ratings carrying that tag."""
        ...

    async def breakdown(
        self,
        touchpoint_id: int,
        key: str,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        tag: str | None = None,
    ) -> dict[str, Counts]:
        """Score counts per value of the context key `key` in a window."""
        ...

    async def by_tag(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
    ) -> dict[str, Counts]:
        """Score counts per tag in a window (a rating with two tags counts in both)."""
        ...

    async def list_responses(
        self, query: ResponseQuery, limit: int, after: tuple[float, str] | None
    ) -> list[Response]:
        """One page, newest first, after the keyset cursor `after` (created_at, id).
        `query.search`: only comments holding every word (search.contains)."""
        ...

    async def commented(
        self,
        touchpoint_id: int,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
        search: Sequence[str],
        tag: str | None = None,
    ) -> list[Counted]:
        """Every rating in [since, until) with a comment (holding every word of `search`;
        carrying `tag`, if given),
        as rollups count it: what the dashboard tallies when a filter is about comments.
        Its cost follows the commented ratings in the window, not all of them."""
        ...

    # -- touchpoints and keys ----------------------------------------------------------

    async def create_touchpoint(self, fields: Mapping[str, Any], now: float) -> Touchpoint: ...

    async def update_touchpoint(
        self, slug: str, fields: Mapping[str, Any], rotate_token: bool, now: float
    ) -> Touchpoint: ...

    async def delete_touchpoint(self, slug: str) -> Touchpoint:
        """Remove a touchpoint with its ratings; its slug keeps its last token version."""
        ...

    async def create_api_key(self, key: ApiKey) -> None: ...

    async def revoke_api_key(self, key_id: str, now: float) -> ApiKey: ...

    # -- copying between databases -------------------------------------------------------

    async def registry(self) -> Registry: ...

    async def restore_registry(self, registry: Registry) -> None:
        """Add a copy's registry. A touchpoint is matched by slug: one already here keeps
        its settings and takes the higher token version (so no revoked token comes back);
        retired slugs likewise; a key is matched by id and keeps a revocation. Accounts
        (by id or address) and settings already here stay as they are; a person already
        here takes the traits of whichever copy saw them last."""
        ...

    async def person_displays(self, touchpoint_id: int) -> list[tuple[str, str, float]]:
        """(person, kind, at) of every display and dismissal kept for a person, oldest first."""
        ...

    async def restore_person_displays(
        self, touchpoint_id: int, displays: Sequence[tuple[str, str, float]]
    ) -> None:
        """Add the displays not kept already (the same person, kind and time, as many times
        as given): copying twice keeps each once. Impressions are restored on their own
        (`restore_impressions`)."""
        ...

    async def impression_hours(self, touchpoint_id: int) -> list[tuple[int, int]]:
        """(hour, impressions) of every hour the widget was shown, oldest first."""
        ...

    async def restore_impressions(
        self, touchpoint_id: int, hours: Sequence[tuple[int, int]]
    ) -> None:
        """Raise each hour's impressions to at least the given count (copying twice counts
        once)."""
        ...

    # -- tags, rules, destinations, deliveries, digests -------------------------------------

    async def add_tag(self, response_id: str, tag: str, now: float) -> Response:
        """Tag a rating by hand (a rule's tag of that name becomes manual)."""
        ...

    async def remove_tag(self, response_id: str, tag: str) -> Response:
        """Take a tag off (Refused tag_not_found if it has none by that name)."""
        ...

    async def create_destination(self, new: NewDestination, now: float) -> Destination: ...

    async def destinations(self) -> list[Destination]:
        """Every destination, by name, secrets included (callers mask them)."""
        ...

    async def remove_destination(self, name: str) -> Destination:
        """Remove a destination and its deliveries; Refused destination_in_use while a rule or
        digest names it."""
        ...

    async def enable_destination(self, name: str) -> Destination:
        """Send to a destination again after a receiver's 410 disabled it."""
        ...

    async def create_rule(self, rule: Rule) -> Rule:
        """Store a rule; Refused destination_not_found if it notifies one that doesn't exist
        (checked in the same transaction), AlreadyExists for a taken name."""
        ...

    async def rules(self) -> list[Rule]: ...

    async def remove_rule(self, name: str) -> Rule: ...

    async def backfill(self, rule: str, since: float | None, cursor: int, limit: int) -> Backfilled:
        """Apply a tagging rule to the next `limit` stored ratings after `cursor` (0 first);
        call again with the returned cursor until it is None."""
        ...

    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float, busy: Sequence[int] = ()
    ) -> list[Claimed]:
        """Lease up to `limit` due deliveries (pending or failed, due, unleased, of enabled
        destinations not in `busy`) for `lease_seconds`: never the same to two callers."""
        ...

    async def renew_deliveries(self, ids: Sequence[str], until: float) -> None:
        """Extend the leases of deliveries still being sent."""
        ...

    async def finish_delivery(self, delivery_id: str, outcome: Outcome, now: float) -> None:
        """Record an attempt: delivered (with the issue it created), failed (next attempt at
        `retry_at`) or dead; `disable` turns the destination off (a 410)."""
        ...

    async def deliveries(
        self, state: str | None, destination: str | None, limit: int
    ) -> list[Delivery]:
        """The outbox, newest first."""
        ...

    async def retry_deliveries(self, ids: Sequence[str] | None, now: float) -> list[Delivery]:
        """Send the given deliveries (None: every dead one) again now, attempts from zero."""
        ...

    async def create_digest(self, digest: Digest, now: float) -> Digest: ...

    async def digests(self) -> list[Digest]: ...

    async def remove_digest(self, name: str) -> Digest: ...

    async def queue_digest(
        self, name: str, period: str, payload: dict[str, Any], delivery_id: str, now: float
    ) -> bool:
        """Queue the digest's delivery for `period` unless it was queued already (its last
        period moves in the same transaction): each period goes out once, across restarts
        and processes. False: already queued."""
        ...

    # -- dashboard accounts (read on every dashboard request: never cached) ---------------

    async def create_user(self, user: User) -> None:
        """Store a new account; AlreadyExists("user", email) if the address has one."""

    async def update_user(
        self, user_id: str, fields: Mapping[str, Any], end_sessions: bool, now: float
    ) -> User:
        """Change `password_hash` and/or `role`; `end_sessions` bumps `session_version`."""
        ...

    async def delete_user(self, user_id: str) -> User: ...

    async def user(self, user_id: str) -> User | None: ...

    async def user_by_email(self, email: str) -> User | None:
        """The account of a lower-case address."""
        ...

    async def users(self) -> list[User]:
        """Every account, oldest first."""
        ...

    # -- derived data and upkeep ---------------------------------------------------------

    async def fold(self) -> int:
        """Fold what was committed since the last fold into the rollups; returns how many
        changes were folded. Safe to call from several places: one fold at a time wins."""
        ...

    async def unfolded(self) -> int:
        """How many committed changes wait for the next fold (the fold's lag)."""
        ...

    async def recount(self, touchpoint_id: int | None = None) -> RollupCheck:
        """Stored rollups (plus what is unfolded) beside a fresh count of the raw rows."""
        ...

    async def maintain(self) -> None:
        """Upkeep once a second (an engine's checkpoints and the like)."""
        ...

    async def refresh(self) -> None:
        """Look for changes other processes committed; if there are, tell the listener
        `Reloaded` (in order with this backend's own changes)."""
        ...

    def health(self) -> Health: ...

    async def close(self) -> None:
        """Commit what is queued, fold it, and let go of the database."""
        ...


# Keyset pages of every match, for exports.
ResponsePages = AsyncIterator[list[Response]]
