"""`Store`: the storage interface the rest of Scorelet uses, with what it keeps in memory.

Touchpoints, API keys and every touchpoint's all-time counts are read on
nearly every request, so they live here, kept exactly in step with the
database by the changes the backend reports in commit order (and reloaded
whole when another process changed the database). Change generations say
when a touchpoint's numbers or listings last moved: the answer caches, ETags
and the SSE stream key on them. Nothing here knows which engine is below.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from scorelet.displays import Displays
from scorelet.eligibility import Seen
from scorelet.rollups import Counted
from scorelet.routing.destinations import Destination, NewDestination
from scorelet.routing.rules import Rule
from scorelet.store.interface import (
    Annotated,
    Backend,
    Change,
    Commented,
    Counts,
    Deleted,
    Forgotten,
    Health,
    History,
    Imported,
    KeySaved,
    Rated,
    Recorded,
    Registry,
    Reloaded,
    RollupCheck,
    SettingSaved,
    Shown,
    Snapshot,
    TouchpointRemoved,
    TouchpointSaved,
)
from scorelet.store.records import (
    ApiKey,
    Backfilled,
    Claimed,
    Delivery,
    Digest,
    Identity,
    NewResponse,
    Outcome,
    Response,
    ResponseQuery,
    User,
)
from scorelet.tokens import hash_api_key, new_api_key
from scorelet.touchpoints import Touchpoint

Clock = Callable[[], float]
NO_DISPLAYS = Displays()


class Store:
    def __init__(self, backend: Backend, clock: Clock = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self._touchpoints: dict[str, Touchpoint] = {}
        self._by_id: dict[int, Touchpoint] = {}
        self._keys: dict[str, ApiKey] = {}
        self._counts: dict[int, dict[int, int]] = {}
        self._displays: dict[int, Displays] = {}
        self._marks: dict[int, int] = {}
        self._settings: dict[str, str] = {}
        # Ratings received since start, per score (a change of mind counts again):
        # monotonic, as Prometheus counters must be.
        self.received: dict[int, dict[int, int]] = {}
        # A counter bumped by every committed change; per touchpoint, when its
        # numbers (scored) and its responses (listed) last changed. Starting
        # from the clock keeps it increasing across restarts (SSE event ids).
        self.generation = time.time_ns() // 1_000_000
        self.scored_generation = self.generation  # the last change that moved a number
        self._scored_at: dict[int, int] = {}
        self._listed_at: dict[int, int] = {}
        # Futures of `wait_for_change` callers; resolved (and dropped) by the next scored change.
        self._waiters: list[asyncio.Future[None]] = []
        self._listing_waiters: list[asyncio.Future[None]] = []  # any change, comments too
        self._refreshing: asyncio.Task[None] | None = None
        backend.listen(self._apply)

    @classmethod
    async def open(
        cls,
        database: Path | str,
        synchronous: str = "full",
        clock: Clock = time.time,
        listen_url: str | None = None,
    ) -> Store:
        """The store over a PostgreSQL URL or an SQLite file (created and migrated if needed)."""
        backend: Backend
        if isinstance(database, str):
            from scorelet.store.postgres.backend import PostgresBackend

            backend = await PostgresBackend.open(database, listen_url)
        else:
            from scorelet.store.sqlite.backend import SqliteBackend

            backend = await SqliteBackend.open(database, synchronous)
        store = cls(backend, clock)
        try:
            await store.load()
        except BaseException:
            await backend.close()
            raise
        return store

    async def load(self) -> None:
        """Read everything kept in memory afresh."""
        self._install(await self.backend.snapshot())

    async def close(self) -> None:
        """Commit what is queued, fold it into the rollups, and let go of the database."""
        await self.backend.close()

    # -- the registry ---------------------------------------------------------------------

    def touchpoint(self, slug: str) -> Touchpoint | None:
        return self._touchpoints.get(slug)

    async def find_touchpoint(self, slug: str) -> Touchpoint | None:
        """A touchpoint by slug; one this process hasn't seen may have been added by another
        (`scorelet touchpoint add` a moment ago), so it looks at the database once first."""
        if slug not in self._touchpoints:
            await self.refresh_if_changed()
        return self._touchpoints.get(slug)

    def touchpoint_by_id(self, touchpoint_id: int) -> Touchpoint | None:
        return self._by_id.get(touchpoint_id)

    def touchpoints(self) -> list[Touchpoint]:
        return sorted(self._touchpoints.values(), key=lambda tp: tp.slug)

    def api_key(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def api_keys(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda key: key.created_at)

    def settings(self) -> dict[str, str]:
        """Install-wide settings (`scorelet settings set`), from memory."""
        return dict(self._settings)

    def totals(self, touchpoint_id: int) -> tuple[dict[int, int], Displays]:
        """All-time counts and displays, from memory: exact at every instant."""
        counts = self._counts.get(touchpoint_id, {})
        displays = self._displays.get(touchpoint_id, NO_DISPLAYS)
        return {s: c for s, c in counts.items() if c}, displays

    # -- keeping the memory in step ----------------------------------------------------------

    def _apply(self, change: Change) -> None:
        """Called by the backend for each committed change, in commit order."""
        match change:
            case Rated(response, previous):
                self._count(response.touchpoint_id, response.score, 1)
                self._answer(response, 1)
                if previous is not None:
                    self._count(previous.touchpoint_id, previous.score, -1)
                    self._answer(previous, -1)
                received = self.received.setdefault(response.touchpoint_id, {})
                received[response.score] = received.get(response.score, 0) + 1
                scored = (
                    previous is None
                    or previous.score != response.score
                    or previous.context != response.context
                    or previous.shown != response.shown
                )
                self._changed_now(response.touchpoint_id, scored)
            case Imported(responses):
                for response in responses:
                    self._count(response.touchpoint_id, response.score, 1)
                    self._answer(response, 1)
                for touchpoint_id in {response.touchpoint_id for response in responses}:
                    self._changed_now(touchpoint_id, scored=True)
            case Commented(response, retagged):
                self._changed_now(response.touchpoint_id, scored=retagged)
            case Annotated(touchpoint_id):
                self._changed_now(touchpoint_id, scored=True)
            case Deleted(response):
                self._count(response.touchpoint_id, response.score, -1)
                self._answer(response, -1)
                self._changed_now(response.touchpoint_id, scored=True)
            case Shown(touchpoint_id):
                self._shown(touchpoint_id, 1)
            case Forgotten(_, responses, impressions):
                for response in responses:
                    self._count(response.touchpoint_id, response.score, -1)
                    self._answer(response, -1)
                    self._changed_now(response.touchpoint_id, scored=True)
                for touchpoint_id, count in impressions.items():
                    self._shown(touchpoint_id, -count)
            case SettingSaved(name, value):
                self._settings[name] = value
            case TouchpointSaved(touchpoint):
                self._remember(touchpoint)
                self._changed_now(touchpoint.id, scored=True)
            case TouchpointRemoved(touchpoint):
                self._forget(touchpoint)
                self._changed_now(touchpoint.id, scored=True)
            case KeySaved(key):
                self._keys[key.id] = key
            case Reloaded(snapshot, listed):
                self._install(snapshot)
                everything = -1 in listed
                for touchpoint_id in list(self._by_id) if everything else listed:
                    self._changed_now(touchpoint_id, scored=False)

    def _shown(self, touchpoint_id: int, count: int) -> None:
        was = self._displays.get(touchpoint_id, NO_DISPLAYS)
        self._displays[touchpoint_id] = replace(was, impressions=was.impressions + count)
        self._changed_now(touchpoint_id, scored=True)

    def _count(self, touchpoint_id: int, score: int, sign: int) -> None:
        counts = self._counts.setdefault(touchpoint_id, {})
        counts[score] = counts.get(score, 0) + sign

    def _answer(self, response: Response, sign: int) -> None:
        """A rating from a counted display answers it (response rates)."""
        if response.shown:
            was = self._displays.get(response.touchpoint_id, NO_DISPLAYS)
            self._displays[response.touchpoint_id] = replace(was, answered=was.answered + sign)

    def _remember(self, touchpoint: Touchpoint) -> None:
        old = self._by_id.get(touchpoint.id)
        if old is not None and old.slug != touchpoint.slug:
            self._touchpoints.pop(old.slug, None)
        self._touchpoints[touchpoint.slug] = touchpoint
        self._by_id[touchpoint.id] = touchpoint

    def _forget(self, touchpoint: Touchpoint) -> None:
        self._touchpoints.pop(touchpoint.slug, None)
        self._by_id.pop(touchpoint.id, None)
        self._counts.pop(touchpoint.id, None)
        self._displays.pop(touchpoint.id, None)

    def _install(self, snapshot: Snapshot) -> None:
        """Take a fresh snapshot; only touchpoints whose numbers or settings moved count
        as changed, so SSE and the answer caches don't wake for nothing."""
        before = dict(self._by_id)
        after = {tp.id: tp for tp in snapshot.touchpoints}
        moved = {
            touchpoint_id
            for touchpoint_id in before.keys() | after.keys()
            if before.get(touchpoint_id) != after.get(touchpoint_id)
            or self.totals(touchpoint_id)[0] != dict(snapshot.totals.get(touchpoint_id, {}))
            or self.totals(touchpoint_id)[1] != snapshot.displays.get(touchpoint_id, NO_DISPLAYS)
            or self._marks.get(touchpoint_id) != snapshot.marks.get(touchpoint_id)
        }
        self._marks = dict(snapshot.marks)
        self._touchpoints = {tp.slug: tp for tp in snapshot.touchpoints}
        self._by_id = after
        self._keys = {key.id: key for key in snapshot.keys}
        self._counts = {tp: dict(counts) for tp, counts in snapshot.totals.items()}
        self._displays = dict(snapshot.displays)
        self._settings = dict(snapshot.settings)
        for touchpoint_id in moved:
            self._changed_now(touchpoint_id, scored=True)

    # -- change tracking ------------------------------------------------------------------

    def _changed_now(self, touchpoint_id: int, scored: bool) -> None:
        self.generation += 1
        self._listed_at[touchpoint_id] = self.generation
        if self._listing_waiters:  # most changes have nobody waiting: nothing made per rating
            self._listing_waiters = _wake(self._listing_waiters)
        if scored:
            self.scored_generation = self.generation
            self._scored_at[touchpoint_id] = self.generation
            if self._waiters:
                self._waiters = _wake(self._waiters)

    def scored_at(self, touchpoint_id: int) -> int:
        """The generation at which this touchpoint's numbers last changed."""
        return self._scored_at.get(touchpoint_id, 0)

    def listed_at(self, touchpoint_id: int) -> int:
        """The generation at which any of this touchpoint's responses last changed."""
        return self._listed_at.get(touchpoint_id, 0)

    async def wait_for_change(self, seconds: float) -> bool:
        """Wait until some touchpoint's numbers change; False after `seconds`."""
        return await _wait(self._waiters, seconds)

    async def wait_for_listing(self, seconds: float) -> bool:
        """Wait until any touchpoint's ratings change (a comment too); False after `seconds`."""
        return await _wait(self._listing_waiters, seconds)

    async def refresh_if_changed(self) -> None:
        """Pick up another process's changes now (one look at a time, shared by callers)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self.backend.refresh())
        await asyncio.shield(self._refreshing)

    async def maintain(self) -> None:
        """Once a second: fold new ratings into the rollups, upkeep, others' changes."""
        await self.backend.fold()
        await self.backend.maintain()
        await self.refresh_if_changed()

    def health(self) -> Health:
        return self.backend.health()

    # -- ratings ------------------------------------------------------------------------------

    async def record_response(self, new: NewResponse) -> Recorded:
        return await self.backend.record(new, self.clock())

    async def update_comment(
        self,
        response_id: str,
        comment: str | None,
        touchpoint_id: int,
        subject: str | None,
        edit_window: float | None,
    ) -> Response:
        return await self.backend.comment(
            response_id, comment, touchpoint_id, subject, edit_window, self.clock()
        )

    async def import_ratings(self, ratings: Sequence[Response]) -> int:
        """Store ratings as they were given (original ids and times); returns how many
        were new (an id or subject already stored is skipped)."""
        return await self.backend.import_ratings(ratings)

    async def delete_response(self, response_id: str) -> Response:
        """Remove a rating as if it had never been given; returns what was removed."""
        return await self.backend.delete_response(response_id)

    async def record_impression(self, touchpoint_id: int, identity: Identity | None = None) -> None:
        await self.backend.record_impression(touchpoint_id, identity, self.clock())

    async def record_dismissal(self, touchpoint_id: int, identity: Identity) -> None:
        await self.backend.record_dismissal(touchpoint_id, identity, self.clock())

    # -- people ---------------------------------------------------------------------------

    async def seen(self, person: str) -> dict[int, Seen]:
        """Per touchpoint, what the person answered, was shown and closed."""
        return await self.backend.seen(person)

    async def history(self, person: str) -> History:
        return await self.backend.history(person)

    async def forget_person(self, person: str) -> Forgotten:
        """Erase a person everywhere: ratings, displays, traits; rollups follow by the fold."""
        return await self.backend.forget_person(person)

    async def save_setting(self, name: str, value: str) -> None:
        await self.backend.save_setting(name, value)

    async def response(self, response_id: str) -> Response | None:
        return await self.backend.response(response_id)

    async def counts(
        self,
        touchpoint_id: int,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> tuple[Counts, Displays | None]:
        """Score counts and displays (None under context filters or a tag) for a window.

        All-time counts come from memory; windows, filters and tags from the database.
        """
        if since is None and until is None and not filters and tag is None:
            return self.totals(touchpoint_id)
        counts = await self.backend.counts(touchpoint_id, since, until, filters or {}, tag)
        if filters or tag is not None:
            return counts, None
        return counts, await self.backend.displays(touchpoint_id, since, until)

    async def context_keys(self, touchpoint_id: int) -> list[str]:
        """Every context key the touchpoint's ratings carry, sorted (export columns)."""
        return await self.backend.context_keys(touchpoint_id)

    async def series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> list[tuple[Counts, Displays | None]]:
        """Counts and displays for each [start, end) bucket, in one read."""
        return await self.backend.series(touchpoint_id, buckets, filters or {}, tag)

    async def tag_series(
        self,
        touchpoint_id: int,
        buckets: Sequence[tuple[float, float]],
        filters: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> list[dict[str, int]]:
        """Ratings per tag in each bucket: a spike after a release shows here."""
        return await self.backend.tag_series(touchpoint_id, buckets, filters or {}, tag)

    async def breakdown(
        self,
        touchpoint_id: int,
        key: str,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> dict[str, Counts]:
        """Score counts per value of the context `key`, e.g. per agent."""
        return await self.backend.breakdown(touchpoint_id, key, since, until, filters or {}, tag)

    async def by_tag(
        self,
        touchpoint_id: int,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> dict[str, Counts]:
        """Score counts per tag."""
        return await self.backend.by_tag(touchpoint_id, since, until, filters or {})

    async def list_responses(
        self, query: ResponseQuery, limit: int, after: tuple[float, str] | None = None
    ) -> list[Response]:
        """One page of responses, newest first, after the keyset cursor `after`."""
        return await self.backend.list_responses(query, limit, after)

    async def iter_responses(
        self, query: ResponseQuery, page: int = 1000
    ) -> AsyncIterator[list[Response]]:
        """Every matching response, newest first, a page at a time (constant memory)."""
        after = None
        while True:
            rows = await self.list_responses(query, page, after)
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = (rows[-1].created_at, rows[-1].id)

    async def commented(
        self,
        touchpoint_id: int,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, str] | None = None,
        search: Sequence[str] = (),
        tag: str | None = None,
    ) -> list[Counted]:
        """The window's ratings that have a comment (with every word of `search` in it)."""
        return await self.backend.commented(touchpoint_id, since, until, filters or {}, search, tag)

    async def unfolded(self) -> int:
        return await self.backend.unfolded()

    async def recount(self, touchpoint_id: int | None = None) -> RollupCheck:
        return await self.backend.recount(touchpoint_id)

    # -- touchpoints and keys --------------------------------------------------------------

    async def create_touchpoint(self, fields: Mapping[str, Any]) -> Touchpoint:
        return await self.backend.create_touchpoint(fields, self.clock())

    async def update_touchpoint(
        self, slug: str, fields: Mapping[str, Any], rotate_token: bool = False
    ) -> Touchpoint:
        return await self.backend.update_touchpoint(slug, fields, rotate_token, self.clock())

    async def delete_touchpoint(self, slug: str) -> Touchpoint:
        return await self.backend.delete_touchpoint(slug)

    async def create_api_key(self, scope: str, name: str | None) -> tuple[ApiKey, str]:
        """A new key; the full key is returned here once and stored only as a hash."""
        key_id, full_key = new_api_key()
        key = ApiKey(key_id, name, scope, hash_api_key(full_key), self.clock())
        await self.backend.create_api_key(key)
        return key, full_key

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        return await self.backend.revoke_api_key(key_id, self.clock())

    # -- copying between databases ----------------------------------------------------------

    async def registry(self) -> Registry:
        """Touchpoints, retired slugs and keys, as a copy carries them."""
        return await self.backend.registry()

    async def restore_registry(self, registry: Registry) -> None:
        await self.backend.restore_registry(registry)
        await self.load()

    async def impression_hours(self, touchpoint_id: int) -> list[tuple[int, int]]:
        return await self.backend.impression_hours(touchpoint_id)

    async def restore_impressions(
        self, touchpoint_id: int, hours: Sequence[tuple[int, int]]
    ) -> None:
        await self.backend.restore_impressions(touchpoint_id, hours)
        await self.load()

    async def person_displays(self, touchpoint_id: int) -> list[tuple[str, str, float]]:
        return await self.backend.person_displays(touchpoint_id)

    async def restore_person_displays(
        self, touchpoint_id: int, displays: Sequence[tuple[str, str, float]]
    ) -> None:
        await self.backend.restore_person_displays(touchpoint_id, displays)

    async def fold(self) -> int:
        """Fold everything committed so far into the rollups now (a copy's last step)."""
        return await self.backend.fold()

    # -- tags, rules, destinations, deliveries, digests -------------------------------------

    async def add_tag(self, response_id: str, tag: str) -> Response:
        return await self.backend.add_tag(response_id, tag, self.clock())

    async def remove_tag(self, response_id: str, tag: str) -> Response:
        return await self.backend.remove_tag(response_id, tag)

    async def create_destination(self, new: NewDestination) -> Destination:
        return await self.backend.create_destination(new, self.clock())

    async def destinations(self) -> list[Destination]:
        return await self.backend.destinations()

    async def destination(self, name: str) -> Destination | None:
        return next((d for d in await self.destinations() if d.name == name), None)

    async def remove_destination(self, name: str) -> Destination:
        return await self.backend.remove_destination(name)

    async def enable_destination(self, name: str) -> Destination:
        return await self.backend.enable_destination(name)

    async def create_rule(self, rule: Rule) -> Rule:
        return await self.backend.create_rule(rule)

    async def rules(self) -> list[Rule]:
        return await self.backend.rules()

    async def remove_rule(self, name: str) -> Rule:
        return await self.backend.remove_rule(name)

    async def backfill(
        self, rule: str, since: float | None, cursor: int = 0, limit: int = 1000
    ) -> Backfilled:
        return await self.backend.backfill(rule, since, cursor, limit)

    async def claim_deliveries(
        self, limit: int, lease_seconds: float, busy: Sequence[int] = ()
    ) -> list[Claimed]:
        return await self.backend.claim_deliveries(self.clock(), limit, lease_seconds, busy)

    async def renew_deliveries(self, ids: Sequence[str], lease_seconds: float) -> None:
        await self.backend.renew_deliveries(ids, self.clock() + lease_seconds)

    async def finish_delivery(self, delivery_id: str, outcome: Outcome) -> None:
        await self.backend.finish_delivery(delivery_id, outcome, self.clock())

    async def deliveries(
        self, state: str | None = None, destination: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        return await self.backend.deliveries(state, destination, limit)

    async def retry_deliveries(self, ids: Sequence[str] | None) -> list[Delivery]:
        return await self.backend.retry_deliveries(ids, self.clock())

    async def create_digest(self, digest: Digest) -> Digest:
        return await self.backend.create_digest(digest, self.clock())

    async def digests(self) -> list[Digest]:
        return await self.backend.digests()

    async def remove_digest(self, name: str) -> Digest:
        return await self.backend.remove_digest(name)

    async def queue_digest(
        self, name: str, period: str, payload: dict[str, Any], delivery_id: str
    ) -> bool:
        return await self.backend.queue_digest(name, period, payload, delivery_id, self.clock())

    # -- dashboard accounts ------------------------------------------------------------------

    async def create_user(self, email: str, role: str, password_hash: str | None) -> User:
        now = self.clock()
        user = User(secrets.token_hex(8), email, role, password_hash, 1, now, now)
        await self.backend.create_user(user)
        return user

    async def update_user(
        self, user_id: str, fields: Mapping[str, Any], end_sessions: bool = False
    ) -> User:
        return await self.backend.update_user(user_id, fields, end_sessions, self.clock())

    async def delete_user(self, user_id: str) -> User:
        return await self.backend.delete_user(user_id)

    async def user(self, user_id: str) -> User | None:
        return await self.backend.user(user_id)

    async def user_by_email(self, email: str) -> User | None:
        return await self.backend.user_by_email(email)

    async def users(self) -> list[User]:
        return await self.backend.users()


def _wake(waiters: list[asyncio.Future[None]]) -> list[asyncio.Future[None]]:
    """Resolve every waiter; returns the (new, empty) list to wait on next."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    return []


async def _wait(waiters: list[asyncio.Future[None]], seconds: float) -> bool:
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        async with asyncio.timeout(seconds):
            await waiter
    except TimeoutError:
        return False
    finally:
        if waiter in waiters:
            waiters.remove(waiter)
    return True
