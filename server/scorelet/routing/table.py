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

    @property
    def tags_ratings(self) -> bool:
        """Whether any rule adds tags (a rating's write then writes more than itself)."""
        return any(rule.add_tags for rule in self.rules)

    @property
    def waits(self) -> bool:
        """Whether any notify rule holds deliveries for a comment."""
        return any(rule.wait_for_comment for rule in self.rules if rule.notify)

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
        candidate = Candidate(
            info.slug, info.metric, info.satisfied_from, score, comment, context, manual
        )
        return evaluate(self.rules, candidate, event)
