"""The pure parts of closing the loop: rules, periods, retries, messages and signatures."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks.webhooks import Webhook

from scorelet.errors import Problem
from scorelet.routing import messages, periods
from scorelet.routing.retries import SCHEDULE, next_attempt, parse_retry_after
from scorelet.routing.rules import Candidate, RuleError, evaluate, parse_rule
from scorelet.routing.sender import classify, sign
from scorelet.routing.table import Table, TouchpointInfo


def candidate(
    score: int, comment: str | None = None, metric: str = "csat", **kw: object
) -> Candidate:
    return Candidate(
        "checkout",
        metric,
        4 if metric == "csat" else None,
        score,
        comment,
        dict(kw.get("context", {})),
        frozenset(kw.get("tags", ())),
    )  # type: ignore[arg-type]


def test_a_notify_rule_fires_once_on_creation_and_a_tagging_rule_on_every_change() -> None:
    notify = parse_rule({"name": "lows", "score": "1..2", "notify": ["fires"]})
    tag = parse_rule({"name": "tag", "has_comment": True, "add_tags": ["Commented"]})
    rules = (notify, tag)
    created = evaluate(rules, candidate(1, "meh"), "created")
    assert [n.destination for n in created.notices] == ["fires"]
    assert [t.tag for t in created.tags] == ["Commented"]
    commented = evaluate(rules, candidate(1, "meh"), "commented")
    assert commented.notices == ()
    assert [t.tag for t in commented.tags] == ["Commented"]
    assert evaluate(rules, candidate(5, "great"), "created").notices == ()


def test_groups_context_and_tags_must_all_hold() -> None:
    rule = parse_rule(
        {
            "name": "r",
            "group": "detractor",
            "context": {"team": "billing"},
            "tag": "VIP",
            "notify": ["x"],
        }
    )
    match = candidate(3, metric="nps", context={"team": "billing"}, tags={"VIP"})
    assert evaluate((rule,), match, "created").notices
    for miss in (
        candidate(7, metric="nps", context={"team": "billing"}, tags={"VIP"}),
        candidate(3, metric="nps", context={"team": "sales"}, tags={"VIP"}),
        candidate(3, metric="nps", context={"team": "billing"}),
        candidate(1, metric="csat", context={"team": "billing"}, tags={"VIP"}),
    ):
        assert not evaluate((rule,), miss, "created").notices


def test_a_notify_rule_sees_the_tags_tagging_rules_just_added() -> None:
    tagger = parse_rule({"name": "a", "comment_matches": "refund", "add_tags": ["Billing"]})
    notify = parse_rule({"name": "b", "tag": "Billing", "notify": ["finance"]})
    decision = evaluate((tagger, notify), candidate(3, "Refund please"), "created")
    assert decision.tags[0].matched == ("Refund",)
    assert [n.destination for n in decision.notices] == ["finance"]


def test_waiting_for_a_comment_holds_only_ratings_without_one() -> None:
    rule = parse_rule({"name": "w", "notify": ["x"], "wait_for_comment": "5m"})
    assert evaluate((rule,), candidate(1), "created").notices[0].wait == 300
    assert evaluate((rule,), candidate(1, "here it is"), "created").notices[0].wait == 0


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": "x"}, "notify", "missing_action"),
        (
            {"name": "x", "notify": ["a"], "comment_matches": "(?=a)"},
            "comment_matches",
            "invalid_regex",
        ),
        ({"name": "x", "notify": ["a"], "score": "3..1"}, "score", "invalid_value"),
        (
            {"name": "x", "notify": ["a"], "wait_for_comment": "3 days"},
            "wait_for_comment",
            "invalid_value",
        ),
        ({"name": "x", "add_tags": ["a,b"]}, "add_tags", "invalid_value"),
        ({"name": "x", "notify": ["a"], "events": ["deleted"]}, "events", "invalid_value"),
    ],
)
def test_bad_rules_name_their_field(body: dict[str, object], field: str, code: str) -> None:
    with pytest.raises(RuleError) as error:
        parse_rule(body)
    assert (error.value.field, error.value.code) == (field, code)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "notify": "fires"}, "notify"),
        ({"name": "x", "notify": ["fires", 2]}, "notify"),
        ({"name": "x", "notify": ["a"], "has_comment": "yes"}, "has_comment"),
        ({"name": "x", "notify": ["a"], "wait_for_comment": True}, "wait_for_comment"),
        ({"name": "x", "notify": ["a"], "score": [1, 2]}, "score"),
        ({"name": "x", "notify": ["a"], "events": [1]}, "events"),
        ({"name": 7, "notify": ["a"]}, "name"),
        ({"name": "X Y", "notify": ["a"]}, "name"),
        ({"name": "x", "notify": ["a"], "when": "now"}, "when"),
    ],
)
def test_a_body_of_the_wrong_shape_or_name_is_a_422_naming_its_field(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(Problem) as error:
        parse_rule(body)
    assert (error.value.status, error.value.field) == (422, field)


def test_a_pattern_that_would_backtrack_forever_elsewhere_matches_in_linear_time() -> None:
    rule = parse_rule({"name": "r", "comment_matches": "(a+)+$", "add_tags": ["A"]})
    comment = "a" * 2000 + "!"
    assert evaluate((rule,), candidate(1, comment), "created").tags == ()


def test_the_retry_schedule_is_standard_webhooks_with_jitter_and_then_dead() -> None:
    rng = random.Random(1)
    assert SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    for attempts in range(1, 10):
        due = next_attempt(attempts, 1000.0, rng=rng)
        assert due is not None
        assert SCHEDULE[attempts] <= due - 1000.0 <= SCHEDULE[attempts] * 1.2
    assert next_attempt(10, 1000.0) is None
    assert next_attempt(1, 0.0, retry_after=120.0) == pytest.approx(120.0, abs=0.01)
    moment = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", moment) == 30.0


def test_statuses_are_classified_as_the_issue_says() -> None:
    assert classify(204, "", None, 0).ok
    redirect = classify(301, "", None, 0)
    assert not redirect.ok
    assert "redirects are not followed" in (redirect.error or "")
    assert classify(410, "gone", None, 0).gone
    assert classify(429, "", "7", 0).retry_after == 7
    assert classify(500, "", "7", 0).retry_after is None


def test_signatures_verify_with_the_reference_library() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = json.dumps({"type": "test", "data": {}}).encode()
    now = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
    }
    assert Webhook(secret).verify(body, headers) == {"type": "test", "data": {}}


def test_weekly_periods_are_iso_weeks_sent_at_their_time_in_their_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    at = periods.parse_at("week", "mon 09:00")
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=berlin).timestamp()
    due = periods.due("week", berlin, at, wednesday)
    assert due.key == "2026-W47"
    assert datetime.fromtimestamp(due.start, berlin) == datetime(2026, 11, 16, tzinfo=berlin)
    early_monday = datetime(2026, 11, 30, 8, 59, tzinfo=berlin).timestamp()
    assert periods.due("week", berlin, at, early_monday).key == "2026-W47"
    assert periods.due("week", berlin, at, early_monday + 60).key == "2026-W48"
    quarter = periods.due("quarter", berlin, periods.parse_at("quarter", None), wednesday)
    assert (quarter.key, periods.before("quarter", berlin, quarter).key) == ("2026-Q3", "2026-Q2")
    with pytest.raises(periods.PeriodError):
        periods.parse_at("month", "mon 09:00")


def test_slack_text_from_raters_cannot_mention_or_link() -> None:
    assert messages.slack_escape("<!channel> & <https://x|y>") == (
        "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    )


def test_the_documented_webhook_example_matches_the_published_schema() -> None:
    import re
    from pathlib import Path

    import jsonschema

    doc = (Path(__file__).parents[1] / "docs" / "webhooks.md").read_text()
    example = re.search(r"```json\n(.*?)```", doc, re.S)
    assert example is not None
    jsonschema.validate(json.loads(example[1]), messages.PAYLOAD_SCHEMA)


def test_a_slack_digest_shows_score_interval_n_change_and_tags() -> None:
    item = {
        "touchpoint": "checkout",
        "metric": "csat",
        "score": {"score": 20.0, "interval": {"low": 5.7, "high": 51.0}, "responses": 10},
        "previous": {"score": 90.0, "interval": {"low": 59.6, "high": 98.2}, "responses": 10},
        "change": -70.0,
        "significant": True,
        "top_tags": [{"tag": "Speed", "count": 4}],
    }
    content = {
        "name": "weekly",
        "tz": "UTC",
        "touchpoints": [item],
        "period": {"label": "week 48 of 2026", "since": "a", "until": "b"},
    }
    text = messages.slack_digest(content)["blocks"][1]["text"]["text"]
    assert text == "*checkout* CSAT 20.0% (5.7-51.0, n=10), -70 vs 90.0% †; tags: Speed 4"


def test_a_table_decides_as_the_rules_do_each_time_it_answers_from_memory() -> None:
    """A table whose rules read no comment words, context or tags remembers its decisions
    by touchpoint, score, event and comment; each must be what evaluating the rules says,
    however often and in whatever order it is asked."""
    rules = tuple(
        sorted(
            (
                parse_rule({"name": "low", "score": "1..2", "add_tags": ["Low"]}),
                parse_rule({"name": "low2", "score": "1..2", "notify": ["s"]}),
                parse_rule({"name": "said", "has_comment": True, "notify": ["s"]}),
                parse_rule({"name": "wait", "notify": ["s"], "wait_for_comment": "5m"}),
                parse_rule({"name": "unhappy", "group": "unsatisfied", "notify": ["s"]}),
            ),
            key=lambda rule: rule.name,
        )
    )
    info = {1: TouchpointInfo("a", "csat", 4), 2: TouchpointInfo("b", "nps", None)}
    table = Table(1, rules, {"s": 1}, info)
    asked = random.Random(7)
    for _ in range(400):
        tp = asked.choice((1, 2))
        score = asked.randint(1, 5) if tp == 1 else asked.randint(0, 10)
        comment = asked.choice((None, "", "   ", "slow", "Slow checkout"))
        event = asked.choice(("created", "updated", "commented"))
        slug, metric, satisfied_from = info[tp].slug, info[tp].metric, info[tp].satisfied_from
        candidate = Candidate(slug, metric, satisfied_from, score, comment, {})
        assert table.decide(tp, score, comment, {}, event) == evaluate(rules, candidate, event)


def test_a_table_with_a_context_rule_decides_per_rating() -> None:
    rule = parse_rule({"name": "vip", "context": {"plan": "vip"}, "notify": ["s"]})
    table = Table(1, (rule,), {"s": 1}, {1: TouchpointInfo("a", "csat", 4)})
    assert table.decide(1, 3, None, {"plan": "vip"}, "created").notices
    assert not table.decide(1, 3, None, {"plan": "free"}, "created").notices
