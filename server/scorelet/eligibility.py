"""When to ask: whether a touchpoint's widget may show to a person now, and why not.

CSAT is asked right after a moment of truth, NPS on a cadence, and nobody
too often. The server decides, from the touchpoint's policy, what the person
has seen and answered (per touchpoint and across all of them), the traits
their identity token carries and the clock. Every "no" has a `reason` (a
stable code, listed in docs/when-to-ask.md), a sentence saying what holds
it back, and the moment it stops holding (`next_eligible_at`; None when no
waiting helps: sampled out, shown the most times, a trait missing).

Rules, in the order a refusal names them:

1. `identity_required`: the touchpoint asks identified people only.
2. `sampled_out`: stable sampling, a hash of touchpoint and person, so the
   same person is always in or always out (a fresh coin per page view would
   let everyone in by reloading).
3. `max_displays`: the person was shown the widget this many times already.
4. `no_signup_date`, `too_soon_after_signup`: `--min-days-since-signup` and
   `--anniversary-window` need the `signed_up_at` trait.
5. `outside_anniversary_window`: asked within N days of each yearly signup
   anniversary, counted in calendar days of the person's time zone; a 29
   February signup has its anniversary on 28 February in other years.
6. `answered_recently` (`--recontact-days`), `dismissed_recently` and
   `shown_recently` (`--redisplay-days`, after a close or a display left
   unanswered).
7. `global_throttle`: one survey per person per N days across touchpoints:
   another touchpoint showed or got an answer within N days. Touchpoints
   with `ignore_global_throttle` neither wait for it nor count toward it.
8. `waiting_for_event`, `other_event`: `--trigger event:NAME` shows only when
   the page tracks NAME; every other rule is checked first, so an integrator
   learns whether the person would be asked.

Anonymous visitors (no identity) get `anonymous`: shown, and the browser's
own cooldown applies as before. Displays and dismissals are never answers.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from scorelet.people import signed_up
from scorelet.timeutil import DAY, HOUR, iso

if TYPE_CHECKING:  # the views import this module's constants
    from scorelet.views import DecisionView

LOAD = "load"
EVENT_PREFIX = "event:"
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_DAYS = 3650
MAX_WINDOW = 183
MAX_DISPLAYS = 10_000
# Global settings (`scorelet settings set NAME VALUE`) and the range of each.
GLOBAL_SETTINGS = {"recontact-days": (0, MAX_DAYS)}
# Every reason, with show true or false: docs/when-to-ask.md documents each.
REASONS = (
    "eligible",
    "anonymous",
    "identity_required",
    "sampled_out",
    "max_displays",
    "no_signup_date",
    "too_soon_after_signup",
    "outside_anniversary_window",
    "answered_recently",
    "dismissed_recently",
    "shown_recently",
    "global_throttle",
    "waiting_for_event",
    "other_event",
)


@dataclass(frozen=True, slots=True)
class Policy:
    """A touchpoint's rules for when to ask (0 and None: no such rule)."""

    recontact_days: int = 0
    redisplay_days: int = 0
    max_displays: int | None = None
    sample: float = 100.0
    min_days_since_signup: int = 0
    anniversary_window: int | None = None
    trigger: str = LOAD
    require_identity: bool = False
    ignore_global_throttle: bool = False

    @property
    def event(self) -> str | None:
        """The event the widget waits for, or None for "on load"."""
        return self.trigger[len(EVENT_PREFIX) :] if self.trigger != LOAD else None


@dataclass(frozen=True, slots=True)
class Seen:
    """What one person saw of one touchpoint and answered there."""

    answers: int = 0
    last_answer_at: float | None = None
    displays: int = 0
    last_display_at: float | None = None
    dismissals: int = 0
    last_dismissal_at: float | None = None

    @property
    def last_asked_at(self) -> float | None:
        """The last time this touchpoint asked (a display) or got an answer."""
        times = [t for t in (self.last_display_at, self.last_answer_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class Decision:
    show: bool
    reason: str
    detail: str
    next_eligible_at: float | None = None

    def public(self) -> DecisionView:
        return {
            "show": self.show,
            "reason": self.reason,
            "detail": self.detail,
            "next_eligible_at": iso(self.next_eligible_at) if self.next_eligible_at else None,
        }


@dataclass(frozen=True, slots=True)
class Hold:
    """A rule that says no: why, and from when it stops (None: waiting doesn't help)."""

    reason: str
    detail: str
    until: float | None


Rule = Callable[[float], Hold | None]


def sampled_in(slug: str, person: str, percent: float) -> bool:
    """Whether the person is in the touchpoint's sample: the same answer every time."""
    if percent >= 100:
        return True
    digest = hashlib.sha256(f"{slug}:{person}".encode()).digest()
    return int.from_bytes(digest[:8], "big") * 100 < percent * 2**64


def ago(seconds: float) -> str:
    if seconds < HOUR:
        minutes = int(seconds // 60)
        return "just now" if minutes < 1 else f"{minutes} minute{'s' * (minutes != 1)} ago"
    if seconds < DAY:
        hours = int(seconds // HOUR)
        return f"{hours} hour{'s' * (hours != 1)} ago"
    count = int(seconds // DAY)
    return f"{count} day{'s' * (count != 1)} ago"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def anniversary(signup: date, year: int) -> date:
    """The signup's anniversary in `year`; 29 February falls on the 28th in other years."""
    try:
        return signup.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def midnight(day: date, zone: tzinfo | None) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def anniversary_windows(signup: datetime, days: int, now: float) -> list[tuple[float, float]]:
    """The [start, end) windows around the anniversaries near `now`, in the signup's zone."""
    zone = signup.tzinfo
    year = datetime.fromtimestamp(now, zone).year
    windows = []
    for candidate in range(year - 1, year + 3):
        if candidate <= signup.year:
            continue
        day = anniversary(signup.date(), candidate)
        start = midnight(day - timedelta(days=days), zone)
        windows.append((start, midnight(day + timedelta(days=days + 1), zone)))
    return windows


class Check:
    """One person, one touchpoint, the facts fixed: each rule asks about a moment `t`."""

    def __init__(
        self,
        policy: Policy,
        slug: str,
        person: str,
        traits: Mapping[str, str],
        seen: Seen,
        others: Iterable[tuple[str, Seen]],
        global_days: int,
    ) -> None:
        self.policy = policy
        self.slug = slug
        self.person = person
        self.signup = signed_up(traits)
        self.seen = seen
        self.others = [(name, s) for name, s in others if s.last_asked_at is not None]
        self.global_days = 0 if policy.ignore_global_throttle else global_days

    def rules(self) -> list[Rule]:
        return [
            self.sample,
            self.displays,
            self.signup_needed,
            self.since_signup,
            self.anniversary,
            self.answered,
            self.dismissed,
            self.shown,
            self.throttle,
        ]

    def sample(self, t: float) -> Hold | None:
        percent = self.policy.sample
        if sampled_in(self.slug, self.person, percent):
            return None
        return Hold("sampled_out", f"not in this touchpoint's {percent:g}% sample", None)

    def displays(self, t: float) -> Hold | None:
        most = self.policy.max_displays
        if most is None or self.seen.displays < most:
            return None
        return Hold(
            "max_displays",
            f"shown {plural(self.seen.displays, 'time')} already; max displays is {most}",
            None,
        )

    def signup_needed(self, t: float) -> Hold | None:
        policy = self.policy
        needs = policy.min_days_since_signup > 0 or policy.anniversary_window is not None
        if not needs or self.signup is not None:
            return None
        return Hold(
            "no_signup_date",
            "this touchpoint asks by signup date, and the identity token has no signed_up_at"
            " trait: mint it with --trait signed_up_at=YYYY-MM-DD",
            None,
        )

    def since_signup(self, t: float) -> Hold | None:
        days = self.policy.min_days_since_signup
        if not days or self.signup is None:
            return None
        ready = self.signup.timestamp() + days * DAY
        if t >= ready:
            return None
        return Hold(
            "too_soon_after_signup",
            f"signed up {ago(t - self.signup.timestamp())}; asked from day {days} on",
            ready,
        )

    def anniversary(self, t: float) -> Hold | None:
        days = self.policy.anniversary_window
        if days is None or self.signup is None:
            return None
        windows = anniversary_windows(self.signup, days, t)
        if any(start <= t < end for start, end in windows):
            return None
        upcoming = min((start for start, _ in windows if start > t), default=None)
        return Hold(
            "outside_anniversary_window",
            f"asked within {plural(days, 'day')} of each signup anniversary"
            f" ({self.signup.strftime('%m-%d')}); this is outside",
            upcoming,
        )

    def answered(self, t: float) -> Hold | None:
        days, last = self.policy.recontact_days, self.seen.last_answer_at
        if not days or last is None or t >= last + days * DAY:
            return None
        return Hold(
            "answered_recently",
            f"answered {ago(t - last)}; recontact after {plural(days, 'day')}",
            last + days * DAY,
        )

    def _redisplay_at(self, last: float | None) -> float | None:
        """When a display or close at `last` stops holding; None if it doesn't hold."""
        days, answered = self.policy.redisplay_days, self.seen.last_answer_at
        if not days or last is None or (answered is not None and answered >= last):
            return None  # an answer after it: recontact days apply instead
        return last + days * DAY

    def dismissed(self, t: float) -> Hold | None:
        last = self.seen.last_dismissal_at
        until = self._redisplay_at(last)
        if until is None or last is None or t >= until:
            return None
        days = self.policy.redisplay_days
        return Hold(
            "dismissed_recently",
            f"closed {ago(t - last)}; shown again after {plural(days, 'day')}",
            until,
        )

    def shown(self, t: float) -> Hold | None:
        last = self.seen.last_display_at
        until = self._redisplay_at(last)
        if until is None or last is None or t >= until:
            return None
        days = self.policy.redisplay_days
        return Hold(
            "shown_recently",
            f"shown {ago(t - last)} and not answered; shown again after {plural(days, 'day')}",
            until,
        )

    def throttle(self, t: float) -> Hold | None:
        days = self.global_days
        if not days or not self.others:
            return None
        name, seen = max(self.others, key=lambda other: other[1].last_asked_at or 0)
        last = seen.last_asked_at
        assert last is not None
        if t >= last + days * DAY:
            return None
        return Hold(
            "global_throttle",
            f"asked at {name} {ago(t - last)}; one survey per person every"
            f" {plural(days, 'day')} across touchpoints",
            last + days * DAY,
        )


def next_eligible(rules: list[Rule], now: float) -> float | None:
    """The first moment every rule passes, if the facts stay as they are (None: never)."""
    t = now
    for _ in range(len(rules) + 2):
        holds = [hold for rule in rules if (hold := rule(t)) is not None]
        if not holds:
            return t
        if any(hold.until is None for hold in holds):
            return None
        t = max(hold.until for hold in holds if hold.until is not None)
    return None


def decide(
    policy: Policy,
    slug: str,
    person: str | None,
    traits: Mapping[str, str],
    seen: Seen,
    others: Iterable[tuple[str, Seen]],
    global_days: int,
    now: float,
    event: str | None = None,
) -> Decision:
    """Whether to show the widget to `person` now (`event`: what the page just tracked).

    `seen` is the person's history at this touchpoint, `others` (slug, history)
    at the other touchpoints the global throttle counts.
    """
    if person is None:
        if policy.require_identity:
            return Decision(
                False,
                "identity_required",
                "this touchpoint asks signed-in people only: give the widget an identity"
                " token (data-identity, or ?identity= on the script's URL)",
            )
        first = Decision(True, "anonymous", "no identity: the browser's own cooldown applies")
        return _trigger(policy, event, first)
    rules = Check(policy, slug, person, traits, seen, others, global_days).rules()
    for rule in rules:
        hold = rule(now)
        if hold is not None:
            return Decision(False, hold.reason, hold.detail, next_eligible(rules, now))
    return _trigger(policy, event, Decision(True, "eligible", "no rule holds it back"))


def _trigger(policy: Policy, event: str | None, decision: Decision) -> Decision:
    wanted = policy.event
    if wanted is None or event == wanted:
        return decision
    call = f'Scorelet("track", "{wanted}")'
    if event is None:
        return Decision(
            False, "waiting_for_event", f"{decision.detail}; shows when the page calls {call}"
        )
    return Decision(
        False, "other_event", f"{event!r} is not this touchpoint's event; it shows on {call}"
    )


def check_trigger(value: str) -> str:
    """`load` or `event:NAME`; raises ValueError saying what is accepted."""
    if value == LOAD:
        return value
    if value.startswith(EVENT_PREFIX) and EVENT_NAME.fullmatch(value[len(EVENT_PREFIX) :]):
        return value
    raise ValueError(
        "trigger must be load or event:NAME (NAME: 1-64 letters, digits, '_', '.', ':' or '-'),"
        " e.g. event:ticket_closed"
    )


def check_setting(name: str, value: str) -> str:
    """A global setting's value as stored; raises ValueError naming what is accepted."""
    if name not in GLOBAL_SETTINGS:
        raise ValueError(f"no setting is named {name[:40]!r}; known: {', '.join(GLOBAL_SETTINGS)}")
    low, high = GLOBAL_SETTINGS[name]
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number of days from {low} to {high} (0: off)")
    return str(int(value))


def global_recontact_days(settings: Mapping[str, str]) -> int:
    return int(settings.get("recontact-days", "0"))
