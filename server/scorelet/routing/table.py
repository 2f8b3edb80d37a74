"""The routing table: every rule, destination id and touchpoint a rating's write needs. Pure.

A backend's writer keeps one in memory and checks it against the stored
routing version once per batch (any rule, destination or touchpoint change
moves that version, in whichever process made it), so each rating is
routed by exactly the rules committed before it, at the cost of one
primary-key read per batch rather than per rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scorelet.routing.rules import NOTHING, Candidate, Decision, Rule, evaluate


@dataclass(frozen=True, slots=True)
class TouchpointInfo:
    slug: str
    metric: str
    satisfied_from: int | None


@dataclass(frozen=True, slots=True)
class Table:
    version: int
    rules: tuple[Rule, ...] = ()  # in name order
    destinations: Mapping[str, int] = field(default_factory=dict)  # name -> id
    touchpoints: Mapping[int, TouchpointInfo] = field(default_factory=dict)
    # Whether any rule adds tags (a rating's write then writes more than itself), and
    # whether any notify rule holds deliveries for a comment.
    tags_ratings: bool = field(init=False)
    waits: bool = field(init=False)
    # Rules that look at neither comment words, context nor tags decide by touchpoint,
    # score, event and whether there is a comment alone: each decision is made once.
    _decided: dict[tuple[int, int, str, int], Decision] | None = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        init = object.__setattr__  # frozen: the derived fields are set once, here
        init(self, "tags_ratings", any(rule.add_tags for rule in self.rules))
        init(self, "waits", any(rule.wait_for_comment for rule in self.rules if rule.notify))
        plain = not any(rule.comment_matches or rule.context or rule.tag for rule in self.rules)
        init(self, "_decided", {} if plain else None)

    def decide(
        self,
        touchpoint_id: int,
        score: int,
        comment: str | None,
        context: Mapping[str, str],
        event: str,
        manual: frozenset[str] = frozenset(),
    ) -> Decision:
        """What the rules do with a rating as it will be stored, at `event`."""
        info = self.touchpoints.get(touchpoint_id)
        if not self.rules or info is None:
            return NOTHING
        decided = self._decided
        if decided is not None:  # what they decide hangs on these alone (see `evaluate`)
            key = (touchpoint_id, score, event, 0 if not comment else 2 if comment.strip() else 1)
            found = decided.get(key)
            if found is None:
                found = decided[key] = self._evaluate(info, score, comment, context, event, manual)
            return found
        return self._evaluate(info, score, comment, context, event, manual)

    def _evaluate(
        self,
        info: TouchpointInfo,
        score: int,
        comment: str | None,
        context: Mapping[str, str],
        event: str,
        manual: frozenset[str],
    ) -> Decision:
        candidate = Candidate(
            info.slug, info.metric, info.satisfied_from, score, comment, context, manual
        )
        return evaluate(self.rules, candidate, event)
