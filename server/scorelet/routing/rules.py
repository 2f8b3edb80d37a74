"""Rules: which ratings they match, and what they do (tag them, or notify destinations). Pure.

A rule matches a rating when every condition it names holds: touchpoint,
score range or group, a comment present or matching a pattern, context
values, a tag the rating carries, and the event (created, updated,
commented). Its action is either to add tags or to notify destinations.

`evaluate` runs on the rating as it will be stored (a replacement keeps an
earlier comment, for instance), inside the transaction that stores it, so
a rating and its tags and deliveries are committed together. Tagging rules
run first, so a notify rule can ask for a tag they add.

Patterns are compiled by RE2 (google-re2): matching takes time linear in
the comment's length whatever the pattern, so no pattern can stall the
writer (no backreferences or lookarounds, which RE2 refuses). Matching is
case-insensitive and Unicode-aware: pattern and comment are compared in
NFC, and RE2 folds case over all of Unicode ("ÄRGER" matches "ärger").
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import re2  # type: ignore[import-untyped]

from scorelet.routing.tags import MAX_TAGS_PER_RULE, TAG_PATTERN, TagError, check_tag
from scorelet.scales import HIGHEST_SCORE, LOWEST_SCORE
from scorelet.shapes import NAME_FIELD, Shape, about
from scorelet.validation import NAME, SLUG

if TYPE_CHECKING:  # the views import this module's constants
    from scorelet.views import RuleView

EVENTS = ("created", "updated", "commented")
GROUPS = ("detractor", "passive", "promoter", "satisfied", "unsatisfied")
NOTIFY_EVENTS = ("created",)  # a notify rule without --event: one notification per rating
MAX_PATTERN = 500
MAX_WAIT = 24 * 3600
MAX_MATCHED = 10  # matched words kept on a tag
MAX_NOTIFY = 10
MAX_TOUCHPOINTS = 50
CONTEXT_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_DURATION = re.compile(r"^(\d{1,6})\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RE2_MEMORY = 8 << 20  # bytes RE2 may use to compile one pattern


class RuleError(ValueError):
    """A rule that can't be stored; `field` names the culprit, `code` says why."""

    def __init__(self, field: str, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    touchpoints: tuple[str, ...] = ()
    score: tuple[int, int] | None = None
    group: str | None = None
    has_comment: bool = False
    comment_matches: str | None = None
    context: tuple[tuple[str, str], ...] = ()
    tag: str | None = None
    events: tuple[str, ...] = ()  # empty: the default for its action (see `fires_on`)
    wait_for_comment: int = 0  # seconds a notification waits for the comment
    notify: tuple[str, ...] = ()  # destination names
    add_tags: tuple[str, ...] = ()
    created_at: float = 0.0

    @property
    def tags_ratings(self) -> bool:
        return bool(self.add_tags)

    def fires_on(self) -> tuple[str, ...]:
        """Tagging rules follow the rating through every change unless told otherwise;
        notify rules fire once, when the rating is created."""
        return self.events or (EVENTS if self.add_tags else NOTIFY_EVENTS)

    def public(self) -> RuleView:
        return {
            "name": self.name,
            "touchpoints": list(self.touchpoints),
            "score": {"min": self.score[0], "max": self.score[1]} if self.score else None,
            "group": self.group,
            "has_comment": self.has_comment,
            "comment_matches": self.comment_matches,
            "context": dict(self.context),
            "tag": self.tag,
            "events": list(self.fires_on()),
            "wait_for_comment": self.wait_for_comment,
            "notify": list(self.notify),
            "add_tags": list(self.add_tags),
        }

    def to_json(self) -> str:
        """The stored definition (the rule's name and time are columns of their own)."""
        data: dict[str, Any] = dict(self.public())
        del data["name"]
        data["events"] = list(self.events)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def rule_from_json(name: str, text: str, created_at: float) -> Rule:
    data = json.loads(text)
    score = data.get("score")
    return Rule(
        name=name,
        touchpoints=tuple(data.get("touchpoints", ())),
        score=(score["min"], score["max"]) if score else None,
        group=data.get("group"),
        has_comment=bool(data.get("has_comment")),
        comment_matches=data.get("comment_matches"),
        context=tuple(sorted(data.get("context", {}).items())),
        tag=data.get("tag"),
        events=tuple(data.get("events", ())),
        wait_for_comment=int(data.get("wait_for_comment", 0)),
        notify=tuple(data.get("notify", ())),
        add_tags=tuple(data.get("add_tags", ())),
        created_at=created_at,
    )


# -- building a rule from loosely typed input (JSON bodies, CLI flags) ---------------------

_WAIT_PATTERN = r"^(?:[0-9]{1,4}s?|[0-9]{1,3}m|1?[0-9]h|2[0-4]h)$"  # a part of parse_wait's


@dataclass(frozen=True, slots=True)
class RuleBody:
    """`POST /api/v1/rules` and `scorelet rule add`, decoded (shapes.Shape); parse_rule
    checks what the fields hold together (one action, a valid pattern, a range)."""

    name: str = field(metadata=NAME_FIELD)
    touchpoints: list[str] | None = field(
        default=None,
        metadata=about(
            "only these touchpoints' ratings; left out: every one",
            maxItems=MAX_TOUCHPOINTS,
            items={"pattern": SLUG.pattern},
        ),
    )
    score: int | str | dict[str, int] | None = field(
        default=None,
        metadata=about(
            '"MIN..MAX", one score, or {"min", "max"} within 0..10',
            expects='"MIN..MAX" or {"min": MIN, "max": MAX}',
            anyOf=[{"$ref": "#/components/schemas/RuleScore"}, {"type": "null"}],
        ),
    )
    group: str | None = field(
        default=None, metadata=about("a group of scores instead", enum=[*GROUPS, None])
    )
    has_comment: bool | None = field(default=None, metadata=about("only ratings with one"))
    comment_matches: str | None = field(
        default=None,
        metadata=about(
            "RE2 pattern, case-insensitive, e.g. refund|invoice (no backreferences or lookarounds)",
            minLength=1,
            maxLength=MAX_PATTERN,
            pattern=r"\S",  # not blank
        ),
    )
    context: dict[str, str] | None = field(
        default=None,
        metadata=about(
            "context values the rating must carry",
            propertyNames={"pattern": CONTEXT_KEY.pattern},
            additionalProperties={"type": "string"},
        ),
    )
    tag: str | None = field(
        default=None, metadata=about("only ratings carrying this tag", pattern=TAG_PATTERN)
    )
    events: list[str] | None = field(
        default=None,
        metadata=about(
            "created (the default), updated, commented",
            maxItems=len(EVENTS),
            items={"enum": list(EVENTS)},
        ),
    )
    wait_for_comment: int | str | None = field(
        default=None,
        metadata=about(
            "5m, 90s, 1h or seconds; at most 24h",
            expects="a duration such as 5m, 90s or 1h",
            minimum=0,
            maximum=MAX_WAIT,
            pattern=_WAIT_PATTERN,
        ),
    )
    notify: list[str] | None = field(
        default=None,
        metadata=about(
            "destinations to notify", maxItems=MAX_NOTIFY, items={"pattern": NAME.pattern}
        ),
    )
    add_tags: list[str] | None = field(
        default=None,
        metadata=about("tags to add", maxItems=MAX_TAGS_PER_RULE, items={"pattern": TAG_PATTERN}),
    )


RULE_BODY = Shape(RuleBody, "NewRule")


def parse_rule(body: Mapping[str, Any], created_at: float = 0.0) -> Rule:
    """A checked rule from a JSON body or the CLI's flags, or an error naming the field
    (a 422 Problem for a wrong type, a RuleError for a wrong value)."""
    given = RULE_BODY.decode(body)
    notify = _listed(given.notify, "notify", MAX_NOTIFY)
    for destination in notify:
        if not NAME.fullmatch(destination):
            raise RuleError("notify", f"{destination[:64]!r} is not a destination name")
    add_tags = _listed(given.add_tags, "add_tags", MAX_TAGS_PER_RULE)
    tags = tuple(dict.fromkeys(_tag(t, "add_tags") for t in add_tags))
    if bool(notify) == bool(tags):
        raise RuleError(
            "add_tags" if notify else "notify",
            "a rule either notifies destinations (notify) or adds tags (add_tags): give one",
            "two_actions" if notify else "missing_action",
        )
    touchpoints = _listed(given.touchpoints, "touchpoints", MAX_TOUCHPOINTS)
    events = _listed(given.events, "events", len(EVENTS))
    for event in events:
        if event not in EVENTS:
            raise RuleError("events", f"events are {', '.join(EVENTS)}, not {event[:30]!r}")
    if given.group is not None and given.group not in GROUPS:
        raise RuleError("group", f"group must be one of {', '.join(GROUPS)}")
    pattern = given.comment_matches
    return Rule(
        name=given.name,
        touchpoints=tuple(dict.fromkeys(touchpoints)),
        score=parse_score(given.score),
        group=given.group,
        has_comment=bool(given.has_comment),
        comment_matches=check_pattern(pattern) if pattern is not None else None,
        context=_context(given.context),
        tag=_tag(given.tag, "tag") if given.tag is not None else None,
        events=tuple(e for e in EVENTS if e in events),
        wait_for_comment=parse_wait(given.wait_for_comment),
        notify=tuple(dict.fromkeys(notify)),
        add_tags=tags,
        created_at=created_at,
    )


def _listed(value: list[str] | None, name: str, limit: int) -> list[str]:
    if value is not None and len(value) > limit:
        raise RuleError(name, f"{name} has more than {limit} entries")
    return value or []


def _tag(value: Any, field: str) -> str:
    try:
        return check_tag(value, field)
    except TagError as error:
        raise RuleError(error.field, str(error)) from None


def _context(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise RuleError("context", "context must be an object of string values", "wrong_type")
    for key in value:
        if not CONTEXT_KEY.fullmatch(key):
            raise RuleError("context", f"{key[:40]!r} is not a context key")
    return tuple(sorted(value.items()))


def parse_score(value: Any) -> tuple[int, int] | None:
    """`{"min": 1, "max": 2}`, `"1..2"` or `3`: an inclusive score range."""
    if value is None:
        return None
    if isinstance(value, str):
        low, sep, high = value.partition("..")
        try:
            bounds = (int(low), int(high) if sep else int(low))
        except ValueError:
            raise RuleError("score", "score must be MIN..MAX such as 1..2, or one score") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        bounds = (value, value)
    elif isinstance(value, dict) and set(value) == {"min", "max"}:
        low, high = value["min"], value["max"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise RuleError("score", "score min and max must be integers", "wrong_type")
        bounds = (low, high)
    else:
        raise RuleError("score", 'score must be "MIN..MAX" or {"min": MIN, "max": MAX}')
    if not LOWEST_SCORE <= bounds[0] <= bounds[1] <= HIGHEST_SCORE:
        raise RuleError("score", "score must be a range within 0..10 with MIN <= MAX")
    return bounds


def parse_wait(value: Any) -> int:
    """Seconds from `300`, `"5m"`, `"90s"`, `"1h"`; at most a day."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.match(value.strip())):
        seconds = int(match[1]) * _UNITS[match[2]]
    else:
        raise RuleError(
            "wait_for_comment", "wait_for_comment must be a duration such as 5m, 90s or 1h"
        )
    if not 0 <= seconds <= MAX_WAIT:
        raise RuleError("wait_for_comment", "wait_for_comment must be at most 24h")
    return seconds


def check_pattern(value: Any) -> str:
    """A pattern RE2 compiles, at most 500 characters: the check made before storing it."""
    if not isinstance(value, str):
        raise RuleError("comment_matches", "comment_matches must be a string", "wrong_type")
    if not value.strip():
        raise RuleError("comment_matches", "comment_matches must not be empty")
    if len(value) > MAX_PATTERN:
        raise RuleError(
            "comment_matches", f"comment_matches is longer than {MAX_PATTERN} characters"
        )
    try:
        compiled(value)
    except re2.error as error:
        reason = error.args[0].decode() if isinstance(error.args[0], bytes) else str(error)
        raise RuleError(
            "comment_matches",
            f"comment_matches is not a pattern RE2 accepts ({reason}); backreferences and"
            " lookarounds are not supported, as they can take exponential time",
            "invalid_regex",
        ) from None
    return value


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = _RE2_MEMORY
    return re2.compile(unicodedata.normalize("NFC", pattern), options)


def matched_words(pattern: str, comment: str) -> tuple[str, ...]:
    """The distinct stretches of `comment` the pattern matches (at most ten), in order."""
    found: dict[str, None] = {}
    for match in compiled(pattern).finditer(unicodedata.normalize("NFC", comment)):
        word = match.group(0).strip()
        if word:
            found.setdefault(word, None)
        if len(found) >= MAX_MATCHED:
            break
    return tuple(found)


# -- evaluating --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rating as rules see it: as it will be stored, with the tags it carries so far."""

    touchpoint: str
    metric: str
    satisfied_from: int | None
    score: int
    comment: str | None
    context: Mapping[str, str]
    tags: frozenset[str] = frozenset()  # manual tags already on the rating


@dataclass(frozen=True, slots=True)
class RuleTag:
    tag: str
    rule: str
    matched: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    rule: str
    destination: str
    wait: int  # seconds to wait for the comment (0: send now)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules decided for one rating and event."""

    evaluated: tuple[str, ...] = ()  # tagging rules that ran: their old tags are replaced
    tags: tuple[RuleTag, ...] = ()
    notices: tuple[Notice, ...] = ()


NOTHING = Decision()


def group_of(candidate: Candidate) -> tuple[str, ...]:
    """The groups a score belongs to: NPS detractor/passive/promoter, CSAT (un)satisfied."""
    score = candidate.score
    if candidate.metric == "nps":
        return ("promoter",) if score >= 9 else ("passive",) if score >= 7 else ("detractor",)
    if candidate.satisfied_from is None:
        return ()
    return ("satisfied",) if score >= candidate.satisfied_from else ("unsatisfied",)


def matches(rule: Rule, candidate: Candidate, event: str, tags: Iterable[str]) -> bool:
    """Whether every condition the rule names holds (comment patterns are checked apart)."""
    if event not in rule.fires_on():
        return False
    if rule.touchpoints and candidate.touchpoint not in rule.touchpoints:
        return False
    if rule.score and not rule.score[0] <= candidate.score <= rule.score[1]:
        return False
    if rule.group and rule.group not in group_of(candidate):
        return False
    comment = candidate.comment
    if (rule.has_comment or rule.comment_matches) and not (comment and comment.strip()):
        return False
    if rule.context and any(candidate.context.get(key) != value for key, value in rule.context):
        return False
    return not (rule.tag and rule.tag not in tags)


def evaluate(rules: Sequence[Rule], candidate: Candidate, event: str) -> Decision:
    """Tags and notifications for one rating at one event; rules in name order."""
    if not rules:
        return NOTHING
    tags = set(candidate.tags)
    evaluated: list[str] = []
    added: list[RuleTag] = []
    notices: list[Notice] = []
    for rule in rules:
        if not rule.tags_ratings or event not in rule.fires_on():
            continue
        evaluated.append(rule.name)
        words = _check(rule, candidate, event, tags)
        if words is None:
            continue
        for tag in rule.add_tags:
            added.append(RuleTag(tag, rule.name, words))
            tags.add(tag)
    for rule in rules:
        if rule.notify and _check(rule, candidate, event, tags) is not None:
            wait = rule.wait_for_comment if not candidate.comment else 0
            notices += [Notice(rule.name, name, wait) for name in rule.notify]
    return Decision(tuple(evaluated), tuple(added), tuple(notices))


def _check(
    rule: Rule, candidate: Candidate, event: str, tags: Iterable[str]
) -> tuple[str, ...] | None:
    """The matched words (empty without a pattern) if the rule matches, else None."""
    if not matches(rule, candidate, event, tags):
        return None
    if rule.comment_matches is None:
        return ()
    assert candidate.comment is not None
    words = matched_words(rule.comment_matches, candidate.comment)
    return words or None


__all__ = [
    "EVENTS",
    "GROUPS",
    "NOTHING",
    "Candidate",
    "Decision",
    "Notice",
    "Rule",
    "RuleError",
    "RuleTag",
    "evaluate",
    "parse_rule",
    "rule_from_json",
]
