"""What a person saw and answered, per touchpoint, from two aggregates any backend reads;
and which of a copy's displays a database lacks.

Both backends count a person's ratings and displays per touchpoint in SQL
(one indexed read each) and hand the rows here, so `Seen` is built one way.
Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from scorelet.eligibility import Seen

# (touchpoint_id, answers, last answer time)
Answers = Iterable[tuple[int, int, float]]
# (touchpoint_id, kind "shown" or "dismissed", how many, last time)
Shown = Iterable[tuple[int, str, int, float]]
# A display kept for a person, as a copy carries it: (person, kind, at)
KeptDisplay = tuple[str, str, float]


def seen_from(answers: Answers, shown: Shown) -> dict[int, Seen]:
    facts: dict[int, dict[str, Any]] = {}
    for touchpoint_id, count, last in answers:
        facts.setdefault(touchpoint_id, {}).update(answers=int(count), last_answer_at=last)
    for touchpoint_id, kind, count, last in shown:
        name = "display" if kind == "shown" else "dismissal"
        facts.setdefault(touchpoint_id, {}).update(
            {f"{name}s": int(count), f"last_{name}_at": last}
        )
    return {touchpoint_id: Seen(**values) for touchpoint_id, values in facts.items()}


def missing_displays(
    have: Iterable[KeptDisplay], given: Iterable[KeptDisplay]
) -> list[KeptDisplay]:
    """The displays of `given` not kept yet, as many times as `given` holds each beyond the
    kept ones (a copy run twice adds each once; two displays in one instant stay two)."""
    kept = Counter(have)
    missing = []
    for display in given:
        if kept[display]:
            kept[display] -= 1
        else:
            missing.append(display)
    return missing
