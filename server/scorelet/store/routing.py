"""What every backend does alike with tags, rules, destinations, deliveries and digests.

Column lists and row decoding (labels, touchpoint lists and a tag's matched
words are JSON text in every backend's tables, as origins are in
columns.py), the tags a rating's rules leave on it, the per-bucket tag
counts of a span, and the refusals: pure, so SQLite and PostgreSQL decide
the same way and only their SQL differs.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from scorelet.routing.destinations import Destination
from scorelet.routing.rules import Decision, Notice, Rule
from scorelet.routing.table import Table, TouchpointInfo
from scorelet.store.errors import NotFound, Refused
from scorelet.store.records import Delivery, Digest, IssueLink, Response, Tag

DESTINATION_COLUMNS = (
    "id, name, kind, url, secret, team, priority, labels, created_at, disabled_at, disabled_reason"
)
DIGEST_COLUMNS = (
    "g.id, g.name, d.name, g.every, g.touchpoints, g.tz, g.at, g.last_period, g.created_at"
)
DELIVERY_COLUMNS = (
    "x.id, d.name, x.kind, x.rule, x.event, x.response_id, x.state, x.attempts, x.due_at,"
    " x.held, x.last_status, x.last_error, x.created_at, x.updated_at"
)


def destination_from_row(row: Sequence[Any]) -> Destination:
    values = list(row)
    values[7] = tuple(json.loads(values[7]))
    return Destination(*values)


def digest_from_row(row: Sequence[Any]) -> Digest:
    values = list(row)
    values[4] = tuple(json.loads(values[4]))
    return Digest(*values)


def delivery_from_row(row: Sequence[Any]) -> Delivery:
    values = list(row)
    values[9] = bool(values[9])
    return Delivery(*values)


def tag_from_row(row: Sequence[Any]) -> Tag:
    """(tag, source, rule, matched) as stored."""
    return Tag(row[0], row[1], row[2], tuple(json.loads(row[3])) if row[3] != "[]" else ())


def matched_json(tag: Tag) -> str:
    return json.dumps(list(tag.matched), ensure_ascii=False)


def tag_rows(response: Response) -> list[tuple[Any, ...]]:
    """A rating's tags as `response_tags` rows: (response_id, tag, touchpoint_id, created_at,
    score, source, rule, matched)."""
    return [
        (
            response.id,
            tag.name,
            response.touchpoint_id,
            response.created_at,
            response.score,
            tag.source,
            tag.rule,
            matched_json(tag),
        )
        for tag in response.tags
    ]


def issue_rows(response: Response) -> list[tuple[Any, ...]]:
    """A copied rating's issues as `response_issues` rows: (delivery_id, response_id,
    touchpoint_id, destination, identifier, url, created_at). The delivery that made an
    issue stays behind, so the key names the rating and the issue instead."""
    return [
        (
            f"copied:{response.id}:{issue.identifier}",
            response.id,
            response.touchpoint_id,
            issue.destination,
            issue.identifier,
            issue.url,
            response.updated_at,
        )
        for issue in response.issues
    ]


def table_from_rows(
    version: int,
    rules: Iterable[Rule],
    destinations: Iterable[Sequence[Any]],
    touchpoints: Iterable[Sequence[Any]],
) -> Table:
    """The routing table from (id, name) destinations and (id, slug, metric, satisfied_from)
    touchpoints."""
    return Table(
        version,
        tuple(rules),
        {name: id_ for id_, name in destinations},
        {
            id_: TouchpointInfo(slug, metric, satisfied)
            for id_, slug, metric, satisfied in touchpoints
        },
    )


# -- a rating's tags -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Routed:
    """What the rules do to a rating as stored: which rule tags go, which come, what is sent."""

    decision: Decision
    kept: tuple[Tag, ...]  # manual tags and tags of rules that didn't run
    added: tuple[Tag, ...]
    retag: bool  # tags of rules that ran are stored: delete them before adding

    @property
    def notices(self) -> tuple[Notice, ...]:
        return tuple(self.decision.notices)

    def tagged(self, response: Response) -> Response:
        if not self.added and not self.kept and not response.tags:
            return response  # the common notify-only case: nothing to copy
        tags = sorted([*self.kept, *self.added], key=lambda tag: tag.name)
        return replace(response, tags=tuple(tags))


def route(table: Table, response: Response, event: str, existing: Sequence[Tag] = ()) -> Routed:
    """Tags of tagging rules that ran are replaced by what they decide now (a comment that
    no longer mentions billing loses "Billing"); manual tags and tags of rules that didn't
    run stay."""
    manual = frozenset(tag.name for tag in existing if tag.source == "manual")
    decision = table.decide(
        response.touchpoint_id, response.score, response.comment, response.context, event, manual
    )
    if not existing and not decision.tags:  # a new rating that no tagging rule tags
        return Routed(decision, (), (), False)
    kept = tuple(t for t in existing if t.source == "manual" or t.rule not in decision.evaluated)
    retag = any(t.source == "rule" and t.rule in decision.evaluated for t in existing)
    names = {t.name for t in kept}
    added = []
    for rule_tag in decision.tags:
        if rule_tag.tag in names:
            continue
        names.add(rule_tag.tag)
        added.append(Tag(rule_tag.tag, "rule", rule_tag.rule, rule_tag.matched))
    return Routed(decision, kept, tuple(added), retag)


def with_annotations(
    responses: list[Response],
    tags: dict[str, list[Tag]],
    issues: dict[str, list[IssueLink]],
) -> list[Response]:
    if not tags and not issues:
        return responses
    return [
        replace(r, tags=tuple(tags.get(r.id, ())), issues=tuple(issues.get(r.id, ())))
        for r in responses
    ]


def bucket_tags(
    buckets: Sequence[tuple[float, float]], tagged: Iterable[tuple[str, float]]
) -> list[dict[str, int]]:
    """Ratings per tag in each [start, end) bucket, from (tag, created_at) over the span."""
    out: list[dict[str, int]] = [{} for _ in buckets]
    starts = [start for start, _ in buckets]
    for name, created_at in tagged:
        index = bisect.bisect_right(starts, created_at) - 1
        if 0 <= index < len(buckets) and created_at < buckets[index][1]:
            out[index][name] = out[index].get(name, 0) + 1
    return [dict(sorted(counts.items())) for counts in out]


# -- refusals ----------------------------------------------------------------------------


def backfilled_rule(table: Table, name: str) -> Table:
    """The table holding only the tagging rule `name`, which a backfill applies."""
    rule = next((r for r in table.rules if r.name == name), None)
    if rule is None:
        raise NotFound("rule", name)
    if not rule.add_tags:
        raise Refused(
            "not_a_tagging_rule", f"{name!r} notifies; only tagging rules backfill", "name"
        )
    return Table(table.version, (rule,), table.destinations, table.touchpoints)


def check_notified(rule: Rule, known: Iterable[str]) -> None:
    """Every destination a rule notifies must exist."""
    names = set(known)
    missing = [name for name in rule.notify if name not in names]
    if missing:
        raise Refused(
            "destination_not_found",
            f"no destination is named {missing[0]!r}: add it first with"
            " `scorelet destination add` (known: " + (", ".join(sorted(names)) or "none") + ")",
            "notify",
        )


def check_unused(name: str, rules: Iterable[Rule], digests: Iterable[str]) -> None:
    """A destination a rule or digest names stays."""
    users = [rule.name for rule in rules if name in rule.notify]
    users += [f"digest {digest}" for digest in digests]
    if users:
        raise Refused(
            "destination_in_use",
            f"{name!r} is used by {', '.join(users)}: remove or change those first",
            "name",
        )


def check_digest_target(destination: str, kind: str | None) -> None:
    """A digest goes to a Slack or webhook destination that exists (`kind` None: none)."""
    if kind is None:
        raise Refused(
            "destination_not_found",
            f"no destination is named {destination!r}: add it first with"
            " `scorelet destination add`",
            "destination",
        )
    if kind == "linear":
        raise Refused(
            "digest_destination",
            "digests go to Slack or a webhook, not to Linear (a summary is not an issue)",
            "destination",
        )


def check_retried(delivery_id: str, state: str | None) -> None:
    if state is None:
        raise NotFound("delivery", delivery_id)
    if state == "delivered":
        raise Refused("already_delivered", f"delivery {delivery_id} was delivered already", "ids")


def tag_not_found(tag: str) -> Refused:
    return Refused("tag_not_found", f"this rating has no tag {tag!r}", "tag")
