"""Use cases: recording a rating and reporting a score, the one place their rules live.

The HTTP handlers, the hosted rating page, the CLI, /metrics and the SSE
stream all come here, so a rule can't differ by the door a rating came in:

- a token names the touchpoint (and, for a subject token, the subject and its
  signed context); revoked, expired and paused are refused alike;
- the score must be on the touchpoint's scale;
- context comes from a subject token, never from the browser: with a subject
  token the rating may not carry any (422 `context_not_allowed`);
- an identity token names the person who rates: their traits join the
  rating's context and win over the page's; a subject token's context wins
  over traits (it is about this one conversation); a touchpoint that
  requires identity refuses ratings and displays without one (403);
- anonymous ratings can change for 24 hours (`EDIT_WINDOW`), subject ratings
  for as long as their token lives; one per subject, one per browser;
- every recording path counts against the touchpoint's rate limit.

Reports are the score bodies the API returns: the metric's figures with
count, interval and response rate, for a window or all time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scorelet import tally
from scorelet.dedup import EDIT_WINDOW
from scorelet.displays import RATING_FILTERS, Displays, rate_fields
from scorelet.eligibility import Decision, Seen, decide, global_recontact_days
from scorelet.errors import Problem, bad_query, invalid
from scorelet.limits import Limits
from scorelet.rollups import Counted
from scorelet.scoring import summarize
from scorelet.series import SeriesError, buckets, zone
from scorelet.shapes import Submission
from scorelet.store import NewResponse, Recorded, Response, ResponseQuery, Store
from scorelet.store.interface import Forgotten, History
from scorelet.store.records import Identity
from scorelet.tally import Counts
from scorelet.timeutil import iso
from scorelet.tokens import EmbedClaims, IdentityClaims, Signer, SubjectClaims, TokenError, kind_of
from scorelet.touchpoints import Touchpoint
from scorelet.trends import Change, change
from scorelet.validation import MAX_CONTEXT_KEYS, check_context_key, wrong_type
from scorelet.views import (
    AllScoresView,
    BreakdownView,
    BucketView,
    Figures,
    GroupScore,
    PersonView,
    Rates,
    ScoreView,
    SeriesView,
    TagCounts,
    TouchpointScore,
    WindowView,
)

__all__ = ["EDIT_WINDOW", "Bearer", "Ratings", "Window"]
# What a `scorelet` command changed a moment ago looks like to a server that hasn't
# reloaded yet.
STALE = frozenset({"touchpoint_not_found", "token_revoked", "touchpoint_inactive"})


@dataclass(frozen=True, slots=True)
class Bearer:
    """A verified token and its live touchpoint."""

    touchpoint: Touchpoint
    subject: SubjectClaims | None

    @property
    def context(self) -> dict[str, str]:
        return dict(self.subject.context) if self.subject else {}


@dataclass(frozen=True, slots=True)
class Window:
    """Which ratings a report counts: [since, until), context filters, and optionally
    a score range and whether (and what) they say in their comment."""

    since: float | None = None
    until: float | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    tag: str | None = None  # only ratings carrying this tag
    min_score: int | None = None
    max_score: int | None = None
    has_comment: bool | None = None
    search: tuple[str, ...] = ()  # words every comment must hold (search.py)

    @property
    def about_comments(self) -> bool:
        return self.has_comment is not None or bool(self.search)

    @property
    def about_ratings(self) -> bool:
        """Filters that pick ratings by what they say, which impressions know nothing of."""
        return self.about_comments or self.min_score is not None or self.max_score is not None

    def query(self, touchpoint_id: int) -> ResponseQuery:
        """The same ratings, as a listing or an export selects them."""
        return ResponseQuery(
            touchpoint_id,
            self.since,
            self.until,
            self.filters,
            self.min_score,
            self.max_score,
            True if self.search else self.has_comment,
            search=self.search,
            tag=self.tag,
        )

    def public(self) -> WindowView:
        body: WindowView = {
            "since": iso(self.since) if self.since is not None else None,
            "until": iso(self.until) if self.until is not None else None,
            "filters": dict(self.filters),
        }
        if self.min_score is not None:  # the filters only when asked for
            body["min_score"] = self.min_score
        if self.max_score is not None:
            body["max_score"] = self.max_score
        if self.has_comment is not None:
            body["has_comment"] = self.has_comment
        if self.tag is not None:
            body["tag"] = self.tag
        if self.search:
            body["search"] = list(self.search)
        return body


def figures(touchpoint: Touchpoint, counts: Mapping[int, int]) -> Figures:
    return summarize(touchpoint.metric, touchpoint.scale, touchpoint.satisfied_from, counts)


def rates(window: Window, displays: Displays | None) -> Rates:
    """Impressions follow context filters only: a score range or comment filter has none."""
    return rate_fields(None, RATING_FILTERS) if window.about_ratings else rate_fields(displays)


class Ratings:
    def __init__(self, store: Store, signer: Signer, limits: Limits | None = None) -> None:
        self.store = store
        self.signer = signer
        self.limits = limits

    # -- tokens ---------------------------------------------------------------------------

    async def bearer(self, token: Any, field: str = "token") -> Bearer:
        """The touchpoint (and subject) a token speaks for, or a 4xx naming `field`.

        A refusal that a `scorelet` command may have made untrue a moment ago
        (`touchpoint add`, `--rotate-token`, `--resume`: a running server sees
        them within a second) is worth one look at the database first.
        """
        try:
            return self._bearer(token, field)
        except Problem as problem:
            if problem.code not in STALE:
                raise
        await self.store.refresh_if_changed()
        return self._bearer(token, field)

    def _bearer(self, token: Any, field: str) -> Bearer:
        if token is None:
            raise Problem(422, "missing_field", f"{field} is required", field)
        if not isinstance(token, str):
            raise wrong_type(field, "a string")
        try:
            claims = self.signer.verify(token)
        except TokenError as error:
            raise Problem(403, error.code, f"{field} is not valid: {error}", field) from None
        if isinstance(claims, IdentityClaims):
            raise Problem(
                403,
                "bad_token",
                f"{field} is an identity token (i.…): it names a person, not a touchpoint;"
                f" send the touchpoint's embed or subject token as {field} and this one as"
                " identity",
                field,
            )
        touchpoint = self.store.touchpoint(claims.touchpoint)
        if touchpoint is None:
            raise Problem(
                404,
                "touchpoint_not_found",
                f"the touchpoint {claims.touchpoint!r} no longer exists",
                field,
            )
        if isinstance(claims, EmbedClaims) and claims.version != touchpoint.token_version:
            raise Problem(
                403, "token_revoked", f"this {field} was revoked; embed the new one", field
            )
        if isinstance(claims, SubjectClaims) and claims.expired(time.time()):
            raise Problem(403, "token_expired", f"this {field} has expired", field)
        if not touchpoint.active:
            raise Problem(403, "touchpoint_inactive", f"{touchpoint.slug!r} is paused", field)
        return Bearer(touchpoint, claims if isinstance(claims, SubjectClaims) else None)

    async def subject_bearer(self, token: Any, field: str = "token") -> Bearer:
        """A live subject token's bearer; embed tokens name no conversation, so they are refused."""
        bearer = await self.bearer(token, field)
        if bearer.subject is None:
            raise Problem(
                403,
                "subject_token_required",
                f"{field} must be a subject token (s.…) minted for one conversation",
                field,
            )
        return bearer

    def identity(self, token: Any, field: str = "identity") -> Identity | None:
        """The person an identity token names (None: no token), or a 403 naming `field`."""
        if token is None:
            return None
        if not isinstance(token, str):
            raise wrong_type(field, "a string: an identity token (i.…)")
        try:
            claims = self.signer.verify(token)
        except TokenError as error:
            raise Problem(403, error.code, f"{field} is not valid: {error}", field) from None
        if not isinstance(claims, IdentityClaims):
            raise Problem(
                403,
                "bad_token",
                f"{field} must be an identity token (i.…) minted by your backend; this is"
                f" {kind_of(claims)}",
                field,
            )
        if claims.expired(time.time()):
            raise Problem(
                403,
                "token_expired",
                f"this {field} has expired: mint a fresh one for each page view"
                " (POST /api/v1/identities, or mint_identity in Python)",
                field,
            )
        return Identity(claims.person, claims.traits)

    @staticmethod
    def _person(bearer: Bearer, identity: Identity | None) -> Identity | None:
        if identity is None and bearer.touchpoint.require_identity:
            raise Problem(
                403,
                "identity_required",
                f"{bearer.touchpoint.slug!r} takes ratings from signed-in people only:"
                " send their identity token (i.…) as identity",
                "identity",
            )
        return identity

    # -- recording --------------------------------------------------------------------------

    def _limit(self, bearer: Bearer) -> None:
        if self.limits is not None:
            self.limits.check_touchpoint(bearer.touchpoint.id)

    async def record(self, bearer: Bearer, rating: Submission) -> Recorded:
        """Store a rating (or replace the one it names); `created` tells which."""
        self._limit(bearer)
        scale = bearer.touchpoint.scale
        if not scale.accepts(rating.score):
            raise invalid(
                "score",
                f"score must be from {scale.low} to {scale.high} on the {scale.name} scale",
                "score_out_of_range",
            )
        subject = bearer.subject
        if subject is not None and rating.context:
            raise invalid(
                "context",
                "this subject token carries its own signed context; the body may not add any",
                "context_not_allowed",
            )
        identity = self._person(bearer, self.identity(rating.identity))
        new = NewResponse(
            touchpoint_id=bearer.touchpoint.id,
            score=rating.score,
            comment=rating.comment,
            subject=subject.subject if subject else None,
            context=self._context(bearer, rating, identity),
            id=rating.id,
            edit_window=None if subject else EDIT_WINDOW,
            client=rating.client if subject is None else None,
            shown=bool(rating.shown),
            identity=identity,
        )
        return await self.store.record_response(new)

    @staticmethod
    def _context(bearer: Bearer, rating: Submission, identity: Identity | None) -> dict[str, str]:
        """Signed context wins: traits over the page's, a subject token's over traits."""
        if identity is None:  # the common case: as before, no copies
            return bearer.context if bearer.subject else (rating.context or {})
        traits = dict(identity.traits)
        if bearer.subject is not None:
            return {**traits, **bearer.context}
        context = {**(rating.context or {}), **traits}
        if len(context) > MAX_CONTEXT_KEYS:
            raise invalid(
                "context",
                f"context and the identity's traits together have more than {MAX_CONTEXT_KEYS}"
                " keys",
                "too_many_context_keys",
            )
        return context

    async def comment(self, bearer: Bearer, response_id: str, comment: str | None) -> Response:
        """Set or clear the comment of a rating given with this token."""
        self._limit(bearer)
        return await self.store.update_comment(
            response_id,
            comment,
            bearer.touchpoint.id,
            bearer.subject.subject if bearer.subject else None,
            EDIT_WINDOW,
        )

    async def impression(self, bearer: Bearer, identity_token: Any = None) -> None:
        """The widget was shown: counted for the response rate, and for the person."""
        identity = self._person(bearer, self.identity(identity_token))
        self._limit(bearer)
        await self.store.record_impression(bearer.touchpoint.id, identity)

    async def dismissal(self, bearer: Bearer, identity_token: Any = None) -> bool:
        """The widget was closed: kept for an identified person (redisplay days), never an
        answer. Without an identity there is nobody to keep it for; False then."""
        identity = self._person(bearer, self.identity(identity_token))
        self._limit(bearer)
        if identity is None:
            return False
        await self.store.record_dismissal(bearer.touchpoint.id, identity)
        return True

    # -- when to ask ---------------------------------------------------------------------------

    async def eligibility(
        self, touchpoint: Touchpoint, identity: Identity | None, event: str | None
    ) -> Decision:
        """Whether the touchpoint's widget shows to this person now, and why not."""
        now = self.store.clock()
        if identity is None:
            return decide(touchpoint.policy, touchpoint.slug, None, {}, Seen(), [], 0, now, event)
        seen = await self.store.seen(identity.person)
        others = []
        for touchpoint_id, facts in seen.items():
            other = self.store.touchpoint_by_id(touchpoint_id)
            if other is not None and other.id != touchpoint.id and not other.ignore_global_throttle:
                others.append((other.slug, facts))
        return decide(
            touchpoint.policy,
            touchpoint.slug,
            identity.person,
            identity.traits,
            seen.get(touchpoint.id, Seen()),
            others,
            global_recontact_days(self.store.settings()),
            now,
            event,
        )

    # -- people -----------------------------------------------------------------------------------

    async def person(self, person: str) -> PersonView:
        """`GET /api/v1/people/{id}`: traits, ratings and displays across touchpoints."""
        found: History = await self.store.history(person)
        if found.person is None and not found.responses and not found.displays:
            raise Problem(404, "person_not_found", "no ratings or displays of this person", "id")

        def slug(touchpoint_id: int) -> str | None:
            touchpoint = self.store.touchpoint_by_id(touchpoint_id)
            return touchpoint.slug if touchpoint else None

        return {
            "id": person,
            "traits": dict(found.person.traits) if found.person else {},
            "first_seen_at": iso(found.person.first_seen_at) if found.person else None,
            "last_seen_at": iso(found.person.last_seen_at) if found.person else None,
            "responses": [r.public(slug(r.touchpoint_id) or "") for r in found.responses],
            "displays": [
                {"touchpoint": slug(d.touchpoint_id), "kind": d.kind, "at": iso(d.at)}
                for d in found.displays
            ],
        }

    async def forget(self, person: str) -> Forgotten:
        """Erase a person (a data-protection request): ratings, displays, traits, everywhere."""
        return await self.store.forget_person(person)

    async def current(self, bearer: Bearer) -> Response | None:
        """The rating of a subject token's own conversation, if it has one."""
        assert bearer.subject is not None
        query = ResponseQuery(bearer.touchpoint.id, subject=bearer.subject.subject)
        found = await self.store.list_responses(query, 1)
        return found[0] if found else None

    async def find(self, response_id: str) -> tuple[Response, Touchpoint]:
        stored = await self.store.response(response_id)
        touchpoint = self.store.touchpoint_by_id(stored.touchpoint_id) if stored else None
        if stored is None or touchpoint is None:
            raise Problem(404, "response_not_found", "no response has this id", "id")
        return stored, touchpoint

    async def delete(self, response_id: str) -> tuple[Response, Touchpoint | None]:
        """Remove a test or spam rating from every score, series, breakdown and export."""
        deleted = await self.store.delete_response(response_id)
        return deleted, self.store.touchpoint_by_id(deleted.touchpoint_id)

    # -- reporting ------------------------------------------------------------------------------

    @staticmethod
    def score_body(
        touchpoint: Touchpoint, counts: Mapping[int, int], rated: Rates
    ) -> TouchpointScore:
        """The one score body: the API, the CLI, SSE, metrics and the dashboard all show it."""
        return {"touchpoint": touchpoint.slug, **figures(touchpoint, counts), **rated}

    async def counts(
        self, touchpoint: Touchpoint, window: Window
    ) -> tuple[Counts, Displays | None]:
        """Score counts (and displays) for every filter a window can carry."""
        counts, displays = await self.store.counts(
            touchpoint.id, window.since, window.until, window.filters, window.tag
        )
        if window.about_comments:
            rows = await self._commented(touchpoint, window)
            commented = tally.counts(rows)
            counts = tally.minus(counts, commented) if window.has_comment is False else commented
        return tally.within(counts, window.min_score, window.max_score), displays

    async def _commented(self, touchpoint: Touchpoint, window: Window) -> list[Counted]:
        return await self.store.commented(
            touchpoint.id, window.since, window.until, window.filters, window.search, window.tag
        )

    async def _spans(
        self, touchpoint: Touchpoint, window: Window, spans: list[tuple[float, float]]
    ) -> list[tuple[Counts, Displays | None]]:
        results = await self.store.series(touchpoint.id, spans, window.filters, window.tag)
        if window.about_comments:
            rows = await self._commented(touchpoint, window)
            commented = tally.per_span(rows, spans)
            results = [
                (tally.minus(c, part) if window.has_comment is False else part, d)
                for (c, d), part in zip(results, commented, strict=True)
            ]
        return [(tally.within(c, window.min_score, window.max_score), d) for c, d in results]

    async def trend(
        self,
        touchpoint: Touchpoint,
        window: Window,
        spans: list[tuple[float, float]],
        tag_counts: bool = False,
    ) -> list[BucketView]:
        """One score body per [start, end) span, clipped to the window (series, sparklines);
        with `tag_counts`, how many ratings carried each tag in each span."""
        clipped = [
            (
                max(start, window.since) if window.since is not None else start,
                min(end, window.until) if window.until is not None else end,
            )
            for start, end in spans
        ]
        results = await self._spans(touchpoint, window, clipped)
        per_tag = (
            await self.store.tag_series(touchpoint.id, clipped, window.filters, window.tag)
            if tag_counts
            else None
        )
        points: list[BucketView] = []
        for index, ((start, end), (counts, displays)) in enumerate(
            zip(spans, results, strict=True)
        ):
            tagged: TagCounts = {"tags": per_tag[index]} if per_tag is not None else {}
            point: BucketView = {
                "start": iso(start),
                "end": iso(end),
                **figures(touchpoint, counts),
                **rates(window, displays),
                **tagged,
            }
            points.append(point)
        return points

    def live_score(self, touchpoint: Touchpoint) -> TouchpointScore:
        """The all-time score, from memory: for /metrics, SSE and the demo page."""
        counts, displays = self.store.totals(touchpoint.id)
        return self.score_body(touchpoint, counts, rate_fields(displays))

    async def score(self, touchpoint: Touchpoint, window: Window) -> ScoreView:
        """`/score`: the touchpoint's figures over a window, with the window they cover."""
        counts, displays = await self.counts(touchpoint, window)
        body = self.score_body(touchpoint, counts, rates(window, displays))
        return {**body, **window.public()}

    async def compared(
        self, touchpoint: Touchpoint, window: Window, before: Window | None
    ) -> tuple[ScoreView, ScoreView | None, Change | None]:
        """The score over a window, over the period before it, and the change between them
        (marked meaningful only when their intervals don't overlap: trends.py)."""
        now = await self.score(touchpoint, window)
        then = await self.score(touchpoint, before) if before is not None else None
        return now, then, change(now, then)

    async def listing(
        self,
        touchpoint: Touchpoint,
        window: Window,
        limit: int,
        after: tuple[float, str] | None = None,
    ) -> list[Response]:
        """One page of the window's ratings, newest first: every filter a report takes,
        the comment search included."""
        return await self.store.list_responses(window.query(touchpoint.id), limit, after)

    async def all_scores(self, window: Window) -> AllScoresView:
        scores = []
        for touchpoint in self.store.touchpoints():
            counts, displays = await self.counts(touchpoint, window)
            scores.append(self.score_body(touchpoint, counts, rates(window, displays)))
        return {**window.public(), "touchpoints": scores}

    def buckets(
        self, window: Window, interval: str, tz_name: str, now: float
    ) -> tuple[list[tuple[float, float]], str]:
        """A series' [start, end) buckets in a time zone, or a 400 naming the parameter."""
        try:
            tz = zone(tz_name)
            return buckets(interval, tz, window.since, window.until, now), tz.key
        except SeriesError as error:
            raise bad_query(error.field, str(error)) from None

    async def series(
        self,
        touchpoint: Touchpoint,
        window: Window,
        spans: list[tuple[float, float]],
        interval: str,
        tz: str,
        tag_counts: bool = False,
    ) -> SeriesView:
        """`/series`: one score per day, week or month (clipped to the window); with
        `tag_counts`, how many ratings carried each tag in each bucket (a spike shows)."""
        points = await self.trend(touchpoint, window, spans, tag_counts)
        return {
            "touchpoint": touchpoint.slug,
            "metric": touchpoint.metric,
            "interval": interval,
            "tz": tz,
            **window.public(),
            "buckets": points,
        }

    async def breakdown(self, touchpoint: Touchpoint, by: str, window: Window) -> BreakdownView:
        """`/breakdown`: one score per value of a context key (or per tag, `by=tag`), most
        responses first."""
        if by == "tag":
            if window.tag is not None:
                raise bad_query("tag", "by=tag groups by every tag: leave tag= out")
            groups = await self.store.by_tag(
                touchpoint.id, window.since, window.until, window.filters
            )
        else:
            try:
                check_context_key(by, "by")
            except Problem as problem:
                raise bad_query("by", problem.detail) from None
            groups = await self.store.breakdown(
                touchpoint.id, by, window.since, window.until, window.filters, window.tag
            )
        if window.about_comments:
            if by == "tag":
                raise bad_query("by", "by=tag can't be combined with has_comment or search yet")
            commented = tally.per_value(await self._commented(touchpoint, window), by)
            if window.has_comment is False:
                groups = {v: tally.minus(c, commented.get(v, {})) for v, c in groups.items()}
            else:
                groups = commented
        groups = {v: tally.within(c, window.min_score, window.max_score) for v, c in groups.items()}
        groups = {value: counts for value, counts in groups.items() if counts}
        # A breakdown's groups have no impressions: those are per touchpoint, not per value.
        rows: list[GroupScore] = [
            {"value": value, **figures(touchpoint, counts)} for value, counts in groups.items()
        ]
        rows.sort(key=lambda row: (-row["responses"], row["value"]))
        return {"touchpoint": touchpoint.slug, "by": by, **window.public(), "groups": rows}
