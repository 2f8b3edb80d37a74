"""The dashboard's filter state: parsed from a URL, written back, turned into a window."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from scorelet.dashboard.filters import Filter, FilterError, parse
from scorelet.scales import parse_scale
from scorelet.touchpoints import Touchpoint

BERLIN = ZoneInfo("Europe/Berlin")
NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z, on the hour


def touchpoint(metric: str = "csat", scale: str = "stars", satisfied_from: int = 4) -> Touchpoint:
    return Touchpoint(
        1, "checkout", metric, parse_scale(scale), None, None, None, None, None, None, (),
        satisfied_from if metric == "csat" else None, 0, True, 1, 0.0, 0.0,
    )  # fmt: skip


def test_a_filter_survives_the_round_trip_through_its_url() -> None:
    query = [
        ("window", "90d"),
        ("f", "agent:alice"),
        ("f", "team:billing"),
        ("min_score", "2"),
        ("max_score", "4"),
        ("group", "low"),
        ("comment", "with"),
        ("q", "slow checkout"),
        ("tz", "Europe/Berlin"),
    ]
    flt, page = parse([*query, ("interval", "week")])
    assert page == {"interval": "week"}
    assert parse(flt.items())[0] == flt
    assert flt.query(by="agent").startswith("?window=90d&f=agent%3Aalice")
    assert Filter().items() == []


def test_a_window_chosen_in_the_form_wins_over_the_days_it_replaced() -> None:
    flt, _ = parse([("window", "7d"), ("since", "2026-01-01"), ("until", "2026-01-31")])
    assert flt.window == "7d"
    custom, _ = parse([("window", ""), ("since", "2026-01-01"), ("until", "2026-01-31")])
    assert (custom.window, custom.since, custom.until) == (
        "custom",
        date(2026, 1, 1),
        date(2026, 1, 31),
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ([("window", "2d")], "window"),
        ([("since", "2026-01-01")], "until"),
        ([("since", "2026-02-01"), ("until", "2026-01-01")], "until"),
        ([("min_score", "-1")], "min_score"),
        ([("min_score", "5"), ("max_score", "4")], "max_score"),
        ([("group", "happy")], "group"),
        ([("comment", "yes")], "comment"),
        ([("f", "agent")], "f"),
        ([("f", "agent:a"), ("f", "agent:b")], "f"),
        ([("q", " ".join(f"w{i}" for i in range(9)))], "q"),
        ([("tz", "Nowhere/Land")], "tz"),
        ([("q", "a"), ("q", "b")], "q"),
        ([("agent", "alice")], "agent"),
    ],
)
def test_a_filter_that_cant_be_used_names_its_field(
    query: list[tuple[str, str]], field: str
) -> None:
    with pytest.raises(FilterError) as raised:
        parse(query)
    assert raised.value.field == field


def test_rolling_windows_start_on_the_hour_and_compare_with_the_period_before() -> None:
    flt = Filter(window="7d")
    since, until = flt.span(BERLIN, NOW + 1234)
    assert (since, until) == (NOW - 7 * 86400, None)
    assert flt.previous(BERLIN, NOW + 1234) == (NOW - 14 * 86400, NOW - 7 * 86400)
    assert Filter(window="all").span(BERLIN, NOW) == (None, None)
    assert Filter(window="all").previous(BERLIN, NOW) is None


def test_custom_days_run_from_local_midnight_to_the_midnight_after_the_last() -> None:
    flt = Filter(window="custom", since=date(2026, 3, 28), until=date(2026, 3, 29))
    since, until = flt.span(BERLIN, NOW)
    assert since == 1_774_652_400.0  # 2026-03-28T00:00+01:00
    assert until == 1_774_821_600.0  # 2026-03-30T00:00+02:00: the clocks went forward
    assert flt.previous(BERLIN, NOW) == (since - (until - since), since)


def test_a_group_narrows_the_score_range_on_its_own_metric_only() -> None:
    stars = touchpoint()
    assert Filter(group="low").scores(stars) == (1, 2)
    assert Filter(group="neutral").scores(stars) == (3, 3)
    assert Filter(group="high", min_score=5).scores(stars) == (5, 5)
    assert Filter(group="promoter").scores(stars) == (None, None)
    nps = touchpoint("nps", "nps")
    assert Filter(group="detractor").scores(nps) == (0, 6)
    assert Filter(group="passive", max_score=7).scores(nps) == (7, 7)


def test_the_window_carries_every_part_of_the_filter() -> None:
    flt = Filter(context=(("agent", "alice"),), comment="without", q="Slow  SLOW checkout")
    window = flt.window_for(touchpoint(), (10.0, 20.0))
    assert (window.since, window.until, dict(window.filters)) == (10.0, 20.0, {"agent": "alice"})
    assert window.has_comment is False
    assert window.search == ("slow", "checkout")
    assert window.query(1).has_comment is True  # a search lists commented ratings only
