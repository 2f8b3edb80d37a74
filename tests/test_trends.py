"""Changes worth marking, small samples and benchmark bands; searching and tallying."""

from __future__ import annotations

from typing import Any

from scorelet.rollups import Counted
from scorelet.search import matches, terms
from scorelet.tally import counts, minus, per_span, per_value, within
from scorelet.trends import benchmark, change, small


def body(score: float | None, low: float, high: float, n: int = 100) -> dict[str, Any]:
    return {"score": score, "interval": {"low": low, "high": high}, "responses": n}


def test_a_change_is_meaningful_only_when_the_intervals_do_not_overlap() -> None:
    apart = change(body(80, 75, 85), body(60, 52, 68))
    assert apart is not None
    assert (apart.delta, apart.meaningful, apart.direction) == (20, True, "up")
    close = change(body(62, 55, 69), body(60, 52, 68))
    assert close is not None
    assert (close.delta, close.meaningful) == (2, False)
    assert change(body(None, 0, 0), body(60, 52, 68)) is None
    assert change(body(60, 52, 68), None) is None


def test_small_samples_and_benchmark_bands() -> None:
    assert small(body(50, 0, 100, n=29))
    assert not small(body(50, 40, 60, n=30))
    assert not small(body(None, 0, 0, n=0))
    assert [benchmark("nps", s) for s in (-5, 0, 0.5, 20, 49.9, 50, 80, 100)] == [
        "0 or below", "0 or below", "decent", "solid", "solid", "excellent", "world-class",
        "world-class",
    ]  # fmt: skip
    assert benchmark("csat", 80) == "strong"
    assert benchmark("csat", 79.9) == "below 80%"
    assert benchmark("csat", None) is None


def test_a_search_is_words_in_any_order_and_any_case() -> None:
    words = terms("  Slow  CHECKOUT slow ")
    assert words == ("slow", "checkout")
    assert matches("The checkout was slow", words)
    assert not matches("The checkout was fine", words)
    assert matches("ÜBER alles", terms("über"))
    assert not matches(None, words)
    assert terms("") == ()


def row(at: float, score: int, **context: str) -> Counted:
    return Counted(1, at, score, context)


def test_tallies_by_score_span_and_value() -> None:
    rows = [row(5, 1, agent="a"), row(15, 5, agent="b"), row(15.5, 5), row(30, 4, agent="a")]
    assert counts(rows) == {1: 1, 5: 2, 4: 1}
    assert per_span(rows, [(0, 10), (10, 20), (40, 50)]) == [{1: 1}, {5: 2}, {}]
    assert per_value(rows, "agent") == {"a": {1: 1, 4: 1}, "b": {5: 1}}
    assert minus({1: 3, 5: 2}, {5: 2}) == {1: 3}
    assert within({1: 3, 3: 1, 5: 2}, 2, None) == {3: 1, 5: 2}
    assert within({1: 3, 3: 1, 5: 2}, None, 3) == {1: 3, 3: 1}
