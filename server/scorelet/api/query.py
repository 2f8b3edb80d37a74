"""Query parameters of the score endpoints: a time window and context filters."""

from __future__ import annotations

from collections.abc import Iterable

from scorelet.errors import Problem, bad_query
from scorelet.ratings import Window
from scorelet.routing.tags import TagError, check_tag
from scorelet.timeutil import parse_instant
from scorelet.validation import MAX_CONTEXT_VALUE, check_context_key, check_text

__all__ = ["Window", "bad_query", "parse_window"]


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
    if since is not None and until is not None and since >= until:
        raise bad_query("until", "until must be later than since")
    return Window(since, until, filters, tag), others
