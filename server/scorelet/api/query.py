"""Query parameters of the score endpoints: a time window and context filters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from scorelet.errors import Problem, bad_query
from scorelet.ratings import Window
from scorelet.routing.tags import TagError, check_tag
from scorelet.scales import HIGHEST_SCORE, LOWEST_SCORE
from scorelet.timeutil import parse_instant
from scorelet.validation import MAX_CONTEXT_VALUE, check_context_key, check_text

__all__ = ["RATING_PARAMS", "Window", "bad_query", "parse_window", "with_rating_filters"]
# Filters by what a rating says, on the score endpoints as on the listing.
RATING_PARAMS = frozenset({"min_score", "max_score", "has_comment"})


def parse_window(
    params: Iterable[tuple[str, str]], extra: frozenset[str] = frozenset()
) -> tuple[Window, dict[str, str]]:
    """`since`/`until` (ISO 8601 or epoch seconds), `tag=` and `key=value` context filters.

    Names in `extra` are returned separately for the endpoint to interpret.
    """
    since = until = None
    tag: str | None = None
    filters: dict[str, str] = {}
    others: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in params:
        if name in seen:
            raise bad_query(name, f"{name} is given more than once")
        seen.add(name)
        if name in ("since", "until"):
            try:
                instant = parse_instant(value)
            except ValueError as error:
                raise bad_query(name, f"{name}: {error}") from None
            if name == "since":
                since = instant
            else:
                until = instant
        elif name == "tag":
            try:
                tag = check_tag(value)
            except TagError as error:
                raise bad_query("tag", str(error)) from None
        elif name in extra:
            others[name] = value
        else:
            try:
                check_context_key(name, name)
                check_text(value, name, MAX_CONTEXT_VALUE)
            except Problem as problem:
                raise bad_query(
                    name[:64], f"unknown parameter or bad context filter: {problem.detail}"
                ) from None
            filters[name] = value
    # until at or before since is a window holding no instant: it counts nothing (as a since
    # after now leaves a series no buckets), which is an answer, not a mistake to refuse.
    return Window(since, until, filters, tag), others


def int_param(params: dict[str, str], name: str, low: int, high: int) -> int | None:
    if name not in params:
        return None
    text = params[name]
    if not text.lstrip("-").isdigit() or len(text) > 6 or not low <= int(text) <= high:
        raise bad_query(name, f"{name} must be a whole number from {low} to {high}")
    return int(text)


def bool_param(params: dict[str, str], name: str) -> bool | None:
    if name not in params:
        return None
    if params[name] not in ("true", "false"):
        raise bad_query(name, f"{name} must be true or false")
    return params[name] == "true"


def score_bounds(params: dict[str, str]) -> tuple[int | None, int | None]:
    """`min_score` and `max_score`: bounds on 0-10, the widest scale, whatever the touchpoint's
    (a bound outside its scale just keeps or leaves out everything on that side)."""
    low, high = LOWEST_SCORE, HIGHEST_SCORE
    return int_param(params, "min_score", low, high), int_param(params, "max_score", low, high)


def with_rating_filters(window: Window, params: dict[str, str]) -> Window:
    """The window narrowed by `min_score`, `max_score` and `has_comment`, if given."""
    low, high = score_bounds(params)
    return replace(
        window,
        min_score=low,
        max_score=high,
        has_comment=bool_param(params, "has_comment"),
    )
