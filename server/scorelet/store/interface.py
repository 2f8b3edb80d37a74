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
from scorelet.store.records import (
    ApiKey,
    Display,
    Identity,
    NewResponse,
    Person,
    Response,
    ResponseQuery,
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
    settings: Mapping[str, str] = field(default_factory=dict)  # install-wide (the throttle)


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
    take the whole state afresh."""

    snapshot: Snapshot


Change = (
    Rated
    | Imported
    | Commented
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
    ) -> Counts:
        """Exact score counts for [since, until) and a context filter."""
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
    ) -> list[tuple[Counts, Displays | None]]:
        """Counts (and displays, None under filters) per [start, end) bucket, in one read."""
        ...

    async def breakdown(
        self,
        touchpoint_id: int,
        key: str,
        since: float | None,
        until: float | None,
        filters: Mapping[str, str],
    ) -> dict[str, Counts]:
        """Score counts per value of the context key `key` in a window."""
        ...

    async def list_responses(
        self, query: ResponseQuery, limit: int, after: tuple[float, str] | None
    ) -> list[Response]:
        """One page, newest first, after the keyset cursor `after` (created_at, id)."""
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
