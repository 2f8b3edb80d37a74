"""When to ask, as pure functions: every rule table-tested with a chosen clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scorelet.eligibility import (
    REASONS,
    Decision,
    Policy,
    Seen,
    anniversary,
    check_setting,
    check_trigger,
    decide,
    sampled_in,
)
from scorelet.timeutil import DAY, HOUR

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC).timestamp()


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def check(
    policy: Policy,
    seen: Seen | None = None,
    traits: dict[str, str] | None = None,
    others: list[tuple[str, Seen]] | None = None,
    global_days: int = 0,
    now: float = NOW,
    person: str | None = "user-1",
    event: str | None = None,
) -> Decision:
    return decide(
        policy, "nps", person, traits or {}, seen or Seen(), others or [], global_days, now, event
    )


def test_a_person_with_no_history_is_eligible() -> None:
    decision = check(Policy(recontact_days=90, redisplay_days=7, max_displays=3))
    assert (decision.show, decision.reason, decision.next_eligible_at) == (True, "eligible", None)


@pytest.mark.parametrize(
    ("answered_days_ago", "show", "next_in_days"),
    [(0, False, 90), (12, False, 78), (89.9, False, 0.1), (90, True, None), (400, True, None)],
)
def test_recontact_days_after_an_answer(
    answered_days_ago: float, show: bool, next_in_days: float | None
) -> None:
    seen = Seen(answers=1, last_answer_at=NOW - answered_days_ago * DAY)
    decision = check(Policy(recontact_days=90), seen)
    assert decision.show is show
    if not show:
        assert decision.reason == "answered_recently"
        assert decision.next_eligible_at == pytest.approx(NOW + next_in_days * DAY)  # type: ignore[operator]


def test_the_recontact_reason_says_how_long_ago_and_how_long_to_wait() -> None:
    seen = Seen(answers=1, last_answer_at=NOW - 12 * DAY)
    assert check(Policy(recontact_days=90), seen).detail == (
        "answered 12 days ago; recontact after 90 days"
    )


@pytest.mark.parametrize(
    ("seen", "reason", "next_in_days"),
    [
        (Seen(displays=1, last_display_at=NOW - 2 * DAY), "shown_recently", 5),
        (
            Seen(displays=1, last_display_at=NOW - DAY, dismissals=1, last_dismissal_at=NOW - DAY),
            "dismissed_recently",
            6,
        ),
        (Seen(displays=1, last_display_at=NOW - 8 * DAY), None, None),
        # answered after the display: the display was not left unanswered
        (
            Seen(displays=1, last_display_at=NOW - 2 * DAY, answers=1, last_answer_at=NOW - DAY),
            None,
            None,
        ),
    ],
)
def test_redisplay_days_after_a_dismissal_or_an_unanswered_display(
    seen: Seen, reason: str | None, next_in_days: float | None
) -> None:
    decision = check(Policy(redisplay_days=7), seen)
    assert decision.show is (reason is None)
    if reason is not None:
        assert decision.reason == reason
        assert decision.next_eligible_at == pytest.approx(NOW + next_in_days * DAY)  # type: ignore[operator]


def test_a_dismissal_is_never_an_answer() -> None:
    seen = Seen(displays=1, last_display_at=NOW - DAY, dismissals=1, last_dismissal_at=NOW - DAY)
    assert check(Policy(recontact_days=90), seen).show, "recontact counts answers only"


@pytest.mark.parametrize(("displays", "show"), [(0, True), (2, True), (3, False), (9, False)])
def test_max_displays(displays: int, show: bool) -> None:
    seen = Seen(displays=displays, last_display_at=NOW - 100 * DAY if displays else None)
    decision = check(Policy(max_displays=3), seen)
    assert decision.show is show
    if not show:
        assert decision.reason == "max_displays"
        assert decision.next_eligible_at is None, "waiting doesn't help"


@pytest.mark.parametrize("percent", [1, 5, 25, 50, 90, 99.5])
def test_sampling_is_within_a_point_of_the_percent_over_10k_ids(percent: float) -> None:
    inside = sum(sampled_in("nps", f"user-{n}", percent) for n in range(10_000))
    assert abs(inside / 100 - percent) <= 1


def test_sampling_is_stable_per_person_and_differs_between_touchpoints() -> None:
    people = [f"user-{n}" for n in range(2000)]
    first = [sampled_in("nps", p, 50) for p in people]
    assert first == [sampled_in("nps", p, 50) for p in people]
    other = [sampled_in("checkout", p, 50) for p in people]
    assert first != other, "a person in one sample is not thereby in every sample"
    assert all(sampled_in("nps", p, 100) for p in people)
    assert not any(sampled_in("nps", p, 0) for p in people)


def test_a_sampled_out_person_is_told_so_for_good() -> None:
    out = next(f"user-{n}" for n in range(100) if not sampled_in("nps", f"user-{n}", 10))
    decision = check(Policy(sample=10), person=out)
    assert (decision.show, decision.reason, decision.next_eligible_at) == (
        False,
        "sampled_out",
        None,
    )
    assert decision.detail == "not in this touchpoint's 10% sample"


@pytest.mark.parametrize(
    ("signed_up_at", "show", "next_at"),
    [
        ("2026-03-17", True, None),  # 90 days before NOW's day, at midnight UTC
        ("2026-03-18", False, "2026-06-16T00:00:00+00:00"),
        ("2026-06-15T11:00:00Z", False, "2026-09-13T11:00:00+00:00"),
        ("2025-01-01", True, None),
    ],
)
def test_minimum_days_since_signup(signed_up_at: str, show: bool, next_at: str | None) -> None:
    decision = check(Policy(min_days_since_signup=90), traits={"signed_up_at": signed_up_at})
    assert decision.show is show
    if next_at is not None:
        assert decision.reason == "too_soon_after_signup"
        assert decision.next_eligible_at == at(next_at)


def test_a_date_only_signup_starts_at_midnight_in_the_persons_time_zone() -> None:
    traits = {"signed_up_at": "2026-03-18", "timezone": "Pacific/Auckland"}  # UTC+12 in March
    decision = check(Policy(min_days_since_signup=90), traits=traits)
    assert decision.show, "90 days after 2026-03-18 00:00 in Auckland is 2026-06-15 12:00 there"


def test_signup_rules_need_the_signed_up_at_trait() -> None:
    for policy in (Policy(min_days_since_signup=30), Policy(anniversary_window=7)):
        decision = check(policy, traits={"plan": "pro"})
        assert (decision.show, decision.reason, decision.next_eligible_at) == (
            False,
            "no_signup_date",
            None,
        )
        assert "--trait signed_up_at=" in decision.detail


@pytest.mark.parametrize(
    ("signed_up_at", "now", "show", "next_at"),
    [
        ("2024-06-20", "2026-06-15T12:00:00+00:00", True, None),  # 5 days before
        ("2024-06-20", "2026-06-12T23:59:59+00:00", False, "2026-06-13T00:00:00+00:00"),
        ("2024-06-20", "2026-06-27T23:59:59+00:00", True, None),  # the last day of the window
        ("2024-06-20", "2026-06-28T00:00:00+00:00", False, "2027-06-13T00:00:00+00:00"),
        # the signup's own year is not an anniversary
        ("2026-06-10", "2026-06-15T12:00:00+00:00", False, "2027-06-03T00:00:00+00:00"),
        # 29 February: the 28th in common years, the 29th in leap years
        ("2024-02-29", "2027-02-28T12:00:00+00:00", True, None),
        ("2024-02-29", "2027-03-01T00:00:00+00:00", False, "2028-02-29T00:00:00+00:00"),
        ("2024-02-29", "2028-02-29T12:00:00+00:00", True, None),
        ("2024-02-29", "2028-02-28T23:59:59+00:00", False, "2028-02-29T00:00:00+00:00"),
    ],
)
def test_anniversary_windows_across_leap_years(
    signed_up_at: str, now: str, show: bool, next_at: str | None
) -> None:
    window = 7 if signed_up_at != "2024-02-29" else 0
    decision = check(
        Policy(anniversary_window=window), traits={"signed_up_at": signed_up_at}, now=at(now)
    )
    assert decision.show is show, decision
    if next_at is not None:
        assert decision.reason == "outside_anniversary_window"
        assert decision.next_eligible_at == at(next_at)


@pytest.mark.parametrize(
    ("tz", "show"),
    [
        # 2026-06-19T13:00Z is already the 20th in Auckland (UTC+12), still the 19th in LA.
        ("Pacific/Auckland", True),
        ("America/Los_Angeles", False),
        ("UTC", False),
    ],
)
def test_anniversary_days_are_the_persons_calendar_days(tz: str, show: bool) -> None:
    traits = {"signed_up_at": "2025-06-20", "timezone": tz}
    decision = check(Policy(anniversary_window=0), traits=traits, now=at("2026-06-19T13:00:00Z"))
    assert decision.show is show


def test_a_signup_with_an_offset_and_no_tz_trait_uses_that_offset() -> None:
    traits = {"signed_up_at": "2025-06-20T08:00:00-07:00"}
    late_on_the_19th_utc = at("2026-06-20T03:00:00Z")  # the 19th, 20:00 at UTC-7
    assert not check(Policy(anniversary_window=0), traits=traits, now=late_on_the_19th_utc).show
    assert check(Policy(anniversary_window=0), traits=traits, now=at("2026-06-20T08:00:00Z")).show


def test_anniversary_of_29_february() -> None:
    assert anniversary(datetime(2024, 2, 29).date(), 2025).isoformat() == "2025-02-28"
    assert anniversary(datetime(2024, 2, 29).date(), 2028).isoformat() == "2028-02-29"


@pytest.mark.parametrize(
    ("others", "days", "ignore", "show", "next_in_days"),
    [
        ([("checkout", Seen(answers=1, last_answer_at=NOW - 5 * DAY))], 30, False, False, 25),
        ([("checkout", Seen(displays=1, last_display_at=NOW - 29 * DAY))], 30, False, False, 1),
        ([("checkout", Seen(displays=1, last_display_at=NOW - 31 * DAY))], 30, False, True, None),
        ([("checkout", Seen(answers=1, last_answer_at=NOW - 5 * DAY))], 0, False, True, None),
        ([("checkout", Seen(answers=1, last_answer_at=NOW - 5 * DAY))], 30, True, True, None),
        ([("checkout", Seen())], 30, False, True, None),
    ],
)
def test_the_global_throttle(
    others: list[tuple[str, Seen]], days: int, ignore: bool, show: bool, next_in_days: float | None
) -> None:
    decision = check(Policy(ignore_global_throttle=ignore), others=others, global_days=days)
    assert decision.show is show
    if not show:
        assert decision.reason == "global_throttle"
        assert decision.detail.startswith("asked at checkout ")
        assert decision.next_eligible_at == pytest.approx(NOW + next_in_days * DAY)  # type: ignore[operator]


def test_next_eligible_is_when_every_rule_passes_together() -> None:
    seen = Seen(answers=1, last_answer_at=NOW - 80 * DAY)  # recontact in 10 days
    others = [("checkout", Seen(answers=1, last_answer_at=NOW - DAY))]  # throttle: 29 days
    decision = check(Policy(recontact_days=90), seen, others=others, global_days=30)
    assert decision.reason == "answered_recently"
    assert decision.next_eligible_at == pytest.approx(NOW + 29 * DAY)


def test_next_eligible_lands_in_the_next_anniversary_window_after_a_recontact() -> None:
    traits = {"signed_up_at": "2024-06-20"}
    seen = Seen(answers=1, last_answer_at=NOW - DAY)
    decision = check(Policy(recontact_days=30, anniversary_window=7), seen, traits)
    assert decision.reason == "answered_recently"
    assert decision.next_eligible_at == at("2027-06-13T00:00:00+00:00")


def test_anonymous_visitors_are_shown_unless_the_touchpoint_requires_identity() -> None:
    anonymous = check(Policy(recontact_days=90, sample=1), person=None)
    assert (anonymous.show, anonymous.reason) == (True, "anonymous")
    required = check(Policy(require_identity=True), person=None)
    assert (required.show, required.reason) == (False, "identity_required")


@pytest.mark.parametrize(
    ("event", "show", "reason"),
    [
        (None, False, "waiting_for_event"),
        ("ticket_closed", True, "eligible"),
        ("page_view", False, "other_event"),
    ],
)
def test_event_triggers(event: str | None, show: bool, reason: str) -> None:
    decision = check(Policy(trigger="event:ticket_closed"), event=event)
    assert (decision.show, decision.reason) == (show, reason)
    if reason == "waiting_for_event":
        assert 'Scorelet("track", "ticket_closed")' in decision.detail


def test_a_person_held_back_hears_that_before_the_trigger() -> None:
    seen = Seen(answers=1, last_answer_at=NOW - DAY)
    policy = Policy(recontact_days=90, trigger="event:ticket_closed")
    assert check(policy, seen, event="ticket_closed").reason == "answered_recently"


def test_every_reason_a_decision_can_give_is_listed() -> None:
    given = {
        check(Policy()).reason,
        check(Policy(), person=None).reason,
        check(Policy(require_identity=True), person=None).reason,
        check(Policy(sample=0)).reason,
        check(Policy(max_displays=1), Seen(displays=1, last_display_at=NOW - DAY)).reason,
        check(Policy(min_days_since_signup=9)).reason,
        check(Policy(min_days_since_signup=9), traits={"signed_up_at": "2026-06-14"}).reason,
        check(Policy(anniversary_window=1), traits={"signed_up_at": "2020-01-01"}).reason,
        check(Policy(recontact_days=9), Seen(answers=1, last_answer_at=NOW - HOUR)).reason,
        check(Policy(redisplay_days=9), Seen(dismissals=1, last_dismissal_at=NOW - 60)).reason,
        check(Policy(redisplay_days=9), Seen(displays=1, last_display_at=NOW - 60)).reason,
        check(Policy(), others=[("a", Seen(answers=1, last_answer_at=NOW))], global_days=9).reason,
        check(Policy(trigger="event:x")).reason,
        check(Policy(trigger="event:x"), event="y").reason,
    }
    assert given == set(REASONS)


def test_public_shape_of_a_decision() -> None:
    seen = Seen(answers=1, last_answer_at=NOW - DAY)
    assert check(Policy(recontact_days=2), seen).public() == {
        "show": False,
        "reason": "answered_recently",
        "detail": "answered 1 day ago; recontact after 2 days",
        "next_eligible_at": "2026-06-16T12:00:00.000Z",
    }


@pytest.mark.parametrize("value", ["load", "event:ticket_closed", "event:a.b:c-d_e"])
def test_triggers_accepted(value: str) -> None:
    assert check_trigger(value) == value


@pytest.mark.parametrize("value", ["", "Load", "event:", "event:has space", "click", "event:é"])
def test_triggers_refused(value: str) -> None:
    with pytest.raises(ValueError, match="load or event:NAME"):
        check_trigger(value)


def test_global_settings_are_checked() -> None:
    assert check_setting("recontact-days", "030") == "30"
    for name, value in (("recontact-days", "-1"), ("recontact-days", "3651"), ("other", "1")):
        with pytest.raises(ValueError, match="recontact-days"):
            check_setting(name, value)
