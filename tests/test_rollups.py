"""The rollup rule: which counters one rating adds to, and folding many at once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scorelet.rollups import Counted, Deltas, day_of, hour_of, matches
from scorelet.timeutil import DAY, HOUR

T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z, a UTC midnight


def test_a_rating_counts_once_in_every_rollup() -> None:
    deltas = Deltas().add_all([Counted(7, T0 + 3 * HOUR + 5, 4, {"agent": "ann", "team": "t"})])
    day, hour = int(T0 // DAY), int(T0 // HOUR) + 3
    assert deltas.daily == {(7, day, 4): 1}
    assert deltas.hourly == {(7, hour, 4): 1}
    assert deltas.totals == {(7, 4): 1}
    assert deltas.context == {(7, "agent", "ann", day, 4): 1, (7, "team", "t", day, 4): 1}
    assert deltas.context_totals == {(7, "agent", "ann", 4): 1, (7, "team", "t", 4): 1}


def test_a_midnight_belongs_to_the_day_it_starts() -> None:
    assert day_of(T0) == day_of(T0 + DAY - 0.001) == day_of(T0 - 0.001) + 1
    assert hour_of(T0 + HOUR) == hour_of(T0) + 1


def test_an_undone_version_cancels_and_nonzero_drops_it() -> None:
    version = Counted(1, T0, 5, {"agent": "a"})
    deltas = Deltas()
    deltas.add(version)
    deltas.add(version, -1)
    deltas.add(Counted(1, T0, 3, {}))
    assert bool(deltas)
    cleaned = deltas.nonzero()
    assert cleaned.totals == {(1, 3): 1}
    assert cleaned.context == {}
    assert not Deltas().add_all([version]).add_all([version], -1)


ratings = st.lists(
    st.builds(
        Counted,
        st.integers(1, 3),
        st.floats(0, 30 * DAY),
        st.integers(0, 10),
        st.dictionaries(st.sampled_from(["agent", "team"]), st.sampled_from(["a", "b"])),
    ),
    max_size=50,
)


@settings(database=None)
@given(first=ratings, second=ratings)
def test_folding_in_two_batches_equals_folding_at_once(
    first: list[Counted], second: list[Counted]
) -> None:
    together = Deltas().add_all(first + second).nonzero()
    apart = Deltas().add_all(first)
    apart.add_all(second)
    assert apart.nonzero() == together
    assert sum(together.totals.values()) == len(first) + len(second)
    assert sum(together.daily.values()) == sum(together.hourly.values()) == len(first + second)


def test_filters_need_every_key_to_match() -> None:
    context = {"agent": "ann", "team": "t"}
    assert matches(context, {})
    assert matches(context, {"agent": "ann"})
    assert not matches(context, {"agent": "ann", "team": "u"})
    assert not matches(context, {"plan": "pro"})
