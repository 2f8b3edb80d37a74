"""What each destination receives: Slack Block Kit, a Linear issue, a signed webhook. Pure.

The webhook payload is a documented, versioned JSON schema (`PAYLOAD_SCHEMA`,
published in /openapi.json as `WebhookPayload` and described in
docs/webhooks.md): fields are only ever added within version 1.

Slack's mrkdwn reads `<...>` as links and mentions (`<!channel>`), so
everything a rater typed is escaped before it goes into a message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scorelet.timeutil import iso

PAYLOAD_VERSION = 1
# Linear issue ids are derived from delivery ids in this namespace, so every retry of a
# delivery names the same issue and Linear can never create a second one.
LINEAR_NAMESPACE = uuid.UUID("5c0a3e2e-7b1d-4f3e-9a57-6b2f1c8d9e40")
CONTEXT_SHOWN = ("agent", "team", "channel", "plan")
SLACK_HEADER = 150
SLACK_TEXT = 2900


@dataclass(frozen=True, slots=True)
class RatingView:
    """A rating as notifications show it."""

    id: str
    touchpoint: str
    metric: str
    scale: str
    low: int
    high: int
    group: str  # detractor/passive/promoter (NPS), satisfied/unsatisfied (CSAT)
    score: int
    comment: str | None
    subject: str | None
    context: Mapping[str, str]
    tags: Sequence[str]
    created_at: float
    updated_at: float
    url: str  # where to look at it


def score_label(view: RatingView) -> str:
    """ "★★☆☆☆ 2/5", "3/10, detractor": the score as a person reads it."""
    if view.metric == "nps":
        return f"{view.score}/10, {view.group}"
    if view.scale == "stars":
        return "★" * view.score + "☆" * (view.high - view.score) + f" {view.score}/{view.high}"
    return f"{view.score}/{view.high}, {view.group}"


def linear_issue_id(delivery_id: str) -> str:
    return str(uuid.uuid5(LINEAR_NAMESPACE, delivery_id))


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _about(view: RatingView) -> list[tuple[str, str]]:
    """Agent, team, subject ... from the rating's signed context, in a stable order."""
    shown = [(key, view.context[key]) for key in CONTEXT_SHOWN if key in view.context]
    shown += [(k, v) for k, v in sorted(view.context.items()) if k not in CONTEXT_SHOWN]
    if view.subject:
        shown.append(("subject", view.subject))
    return shown[:8]


def title(view: RatingView) -> str:
    name = view.metric.upper()
    line = f"{name} {score_label(view)} on {view.touchpoint}"
    if view.comment:
        line += ": " + " ".join(view.comment.split())
    return _clip(line, 120)


# -- Slack ------------------------------------------------------------------------------------


def slack_rating(view: RatingView, rule: str | None, test: bool = False) -> dict[str, Any]:
    """Block Kit: the score, the touchpoint, the comment as a quote, who it was about, a link."""
    header = f"{score_label(view)} · {view.touchpoint}"
    if test:
        header = "[TEST] " + header
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(header, SLACK_HEADER)}}
    ]
    if view.comment:
        quoted = "\n".join("> " + slack_escape(line) for line in view.comment.splitlines())
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(quoted, SLACK_TEXT)}}
        )
    facts = [f"*{slack_escape(k)}:* {slack_escape(v)}" for k, v in _about(view)]
    if view.tags:
        facts.append("*tags:* " + ", ".join(slack_escape(tag) for tag in view.tags))
    if facts:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]}
        )
    footer = f"<{view.url}|View the rating> · {iso(view.created_at)}"
    if rule:
        footer += f" · rule {slack_escape(rule)}"
    if test:
        footer = "This is a test message from `scorelet destination test`. " + footer
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    text = ("[TEST] " if test else "") + title(view)
    return {"text": slack_escape(text), "blocks": blocks}


def slack_digest(content: Mapping[str, Any]) -> dict[str, Any]:
    """A digest: one section per touchpoint with its score, interval, n, change and top tags."""
    period = content["period"]
    head = f"{content['name']}: {period['label']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(head, SLACK_HEADER)}}
    ]
    lines = []
    for item in content["touchpoints"]:
        lines.append(digest_line(item))
    blocks.append(
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip("\n".join(lines) or "No touchpoints.", SLACK_TEXT),
            },
        }
    )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{period['since']} to {period['until']} ({content['tz']}) · † the"
                    " change is beyond the 95% intervals",
                }
            ],
        }
    )
    return {"text": slack_escape(head), "blocks": blocks}


def digest_line(item: Mapping[str, Any]) -> str:
    """`*checkout* CSAT 82% (74-88, n=120), +6 vs 76% †; tags: Billing 9, Bug 4`."""
    score, previous = item["score"], item["previous"]
    unit = "%" if item["metric"] == "csat" else ""
    name = f"*{slack_escape(item['touchpoint'])}* {item['metric'].upper()}"
    if score["score"] is None:
        return f"{name}: no ratings"
    low, high = score["interval"]["low"], score["interval"]["high"]
    line = f"{name} {score['score']}{unit} ({low}-{high}, n={score['responses']})"
    change = item["change"]
    if change is not None:
        line += f", {change:+g} vs {previous['score']}{unit}" + (
            " †" if item["significant"] else ""
        )
    elif previous["score"] is None:
        line += ", no ratings the period before"
    if item["top_tags"]:
        line += "; tags: " + ", ".join(
            f"{slack_escape(t['tag'])} {t['count']}" for t in item["top_tags"]
        )
    return line


# -- Linear -----------------------------------------------------------------------------------

ISSUE_CREATE = """mutation ScoreletIssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}"""
ISSUE_LOOKUP = """query ScoreletIssue($id: String!) { issue(id: $id) { id identifier url } }"""
LABELS = """query ScoreletLabels($names: [String!]) {
  issueLabels(filter: {name: {in: $names}}) { nodes { id name } }
}"""


def linear_description(view: RatingView, rule: str | None) -> str:
    lines = [f"**{view.metric.upper()} {score_label(view)}** on `{view.touchpoint}`", ""]
    if view.comment:
        lines += ["> " + line for line in view.comment.splitlines()] + [""]
    for key, value in _about(view):
        lines.append(f"- **{key}**: {value}")
    if view.tags:
        lines.append(f"- **tags**: {', '.join(view.tags)}")
    lines += ["", f"[View the rating]({view.url}) · given {iso(view.created_at)}"]
    if rule:
        lines.append(f"Created by Scorelet rule `{rule}`.")
    return "\n".join(lines)


def linear_input(
    view: RatingView,
    rule: str | None,
    delivery_id: str,
    team: str,
    priority: int | None,
    label_ids: Sequence[str],
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": linear_issue_id(delivery_id),
        "teamId": team,
        "title": title(view),
        "description": linear_description(view, rule),
    }
    if priority is not None:
        data["priority"] = priority
    if label_ids:
        data["labelIds"] = list(label_ids)
    return data


# -- generic webhooks -------------------------------------------------------------------------


def rating_data(view: RatingView) -> dict[str, Any]:
    return {
        "id": view.id,
        "touchpoint": view.touchpoint,
        "metric": view.metric,
        "scale": {"name": view.scale, "min": view.low, "max": view.high},
        "score": view.score,
        "group": view.group,
        "comment": view.comment,
        "subject": view.subject,
        "context": dict(view.context),
        "tags": list(view.tags),
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "url": view.url,
    }


def webhook_payload(
    kind: str, delivery_id: str, now: float, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The Standard Webhooks envelope: `type`, `timestamp`, `data` (with `version` inside)."""
    return {
        "type": kind,
        "timestamp": iso(now),
        "data": {"version": PAYLOAD_VERSION, "delivery": delivery_id, **data},
    }


_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
PAYLOAD_SCHEMA: dict[str, Any] = {
    "title": "Scorelet webhook payload, version 1",
    "type": "object",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {
            "enum": ["rating.created", "rating.updated", "rating.commented", "digest", "test"],
            "description": "rating.* for notify rules (the rule's event), digest, or test",
        },
        "timestamp": _TIME,
        "data": {
            "type": "object",
            "required": ["version", "delivery"],
            "properties": {
                "version": {"const": PAYLOAD_VERSION},
                "delivery": {**_STRING, "description": "the delivery id, also webhook-id"},
                "rule": _NULLABLE_STRING,
                "rating": {
                    "type": "object",
                    "required": ["id", "touchpoint", "metric", "score", "group", "created_at"],
                    "properties": {
                        "id": {**_STRING, "format": "uuid"},
                        "touchpoint": _STRING,
                        "metric": {"enum": ["csat", "nps"]},
                        "scale": {
                            "type": "object",
                            "properties": {
                                "name": _STRING,
                                "min": {"type": "integer"},
                                "max": {"type": "integer"},
                            },
                        },
                        "score": {"type": "integer"},
                        "group": {
                            "enum": ["detractor", "passive", "promoter", "satisfied", "unsatisfied"]
                        },
                        "comment": _NULLABLE_STRING,
                        "subject": _NULLABLE_STRING,
                        "context": {"type": "object", "additionalProperties": _STRING},
                        "tags": {"type": "array", "items": _STRING},
                        "created_at": _TIME,
                        "updated_at": _TIME,
                        "url": _STRING,
                    },
                },
                "digest": {
                    "type": "object",
                    "description": "for type digest: the period and one entry per touchpoint",
                },
            },
        },
    },
}
