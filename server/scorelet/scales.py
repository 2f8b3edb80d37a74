"""What each rating scale is, and which scores it accepts.

A scale is named in the CLI and API as `stars`, `smileys`, `smileys3`, `nps`
or `numeric:N`. NPS touchpoints always use the 0-10 `nps` scale; CSAT
touchpoints use any of the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Metric = Literal["csat", "nps"]
METRICS: tuple[Metric, ...] = ("csat", "nps")
NUMERIC_MAX = 10
LOWEST_SCORE, HIGHEST_SCORE = 0, 10  # every scale lies within these (NPS spans them)


class ScaleError(ValueError):
    """A scale, metric or threshold that can't be used; `field` names the culprit."""

    def __init__(self, field: str, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    low: int
    high: int

    @property
    def points(self) -> range:
        return range(self.low, self.high + 1)

    def default_satisfied_from(self) -> int:
        """Top two boxes, except three faces, where only the happy face counts."""
        if self.name == "smileys3":
            return 3
        return self.high - 1

    def accepts(self, score: int) -> bool:
        return self.low <= score <= self.high


_NAMED = {
    "stars": Scale("stars", 1, 5),
    "smileys": Scale("smileys", 1, 5),
    "smileys3": Scale("smileys3", 1, 3),
    "nps": Scale("nps", 0, 10),
}


def csat_scales() -> list[Scale]:
    """Every scale a CSAT touchpoint can have, by its canonical name (for /openapi.json)."""
    numeric = [Scale(f"numeric:{n}", 1, n) for n in range(3, NUMERIC_MAX + 1)]
    return [scale for scale in _NAMED.values() if scale.name != "nps"] + numeric


def parse_scale(name: str) -> Scale:
    """Parse a scale name such as `stars` or `numeric:7`."""
    if name in _NAMED:
        return _NAMED[name]
    if name.startswith("numeric:"):
        size = name.removeprefix("numeric:")
        # ASCII only: str.isdigit() also accepts '²', which int() then refuses.
        if size.isascii() and size.isdigit() and len(size) <= 2 and 3 <= int(size) <= NUMERIC_MAX:
            return Scale(f"numeric:{int(size)}", 1, int(size))
        raise ScaleError("scale", f"numeric scales run 1-N with N from 3 to {NUMERIC_MAX}")
    raise ScaleError(
        "scale", f"unknown scale {name!r}; use stars, smileys, smileys3, nps or numeric:N"
    )


def scale_for(metric: str, scale: str | None) -> Scale:
    """The scale a touchpoint of `metric` uses; NPS is always 0-10."""
    if metric not in METRICS:
        raise ScaleError("metric", f"unknown metric {metric!r}; use csat or nps")
    if metric == "nps":
        if scale not in (None, "nps"):
            raise ScaleError("scale", "NPS touchpoints always use the 0-10 nps scale")
        return _NAMED["nps"]
    if scale is None:
        return _NAMED["stars"]
    parsed = parse_scale(scale)
    if parsed.name == "nps":
        raise ScaleError("scale", "the 0-10 nps scale is for NPS touchpoints; use --metric nps")
    return parsed


def satisfied_threshold(metric: str, scale: Scale, satisfied_from: int | None) -> int | None:
    """Validate a CSAT `satisfied_from` override; NPS has fixed groups and takes none."""
    if metric == "nps":
        if satisfied_from is not None:
            raise ScaleError("satisfied_from", "NPS groups are fixed; satisfied_from is for CSAT")
        return None
    if satisfied_from is None:
        return scale.default_satisfied_from()
    if not scale.low < satisfied_from <= scale.high:
        raise ScaleError(
            "satisfied_from",
            f"satisfied_from must be between {scale.low + 1} and {scale.high} on {scale.name}",
            "out_of_range",
        )
    return satisfied_from
