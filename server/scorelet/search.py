"""Searching comments: what a search box's text means. Pure, no I/O.

A search is a few words; a comment matches when it contains every one of
them, anywhere, ignoring case in any script ("über" finds "Über", "STRASSE"
finds "straße"). Words, not a phrase, because people type "slow checkout"
for comments that say "checkout was slow". Backends apply `contains` to
each word (SQLite through a function registered on its connections; a
database with Unicode-aware ILIKE can use that).
"""

from __future__ import annotations

MAX_TERMS = 8
MAX_TERM = 100


class SearchError(ValueError):
    """A search the page can't run; the message says what to change."""


def terms(text: str) -> tuple[str, ...]:
    """The words of a search, case-folded and without repeats, in the order typed."""
    words = tuple(dict.fromkeys(word.casefold() for word in text.split()))
    if len(words) > MAX_TERMS:
        raise SearchError(f"search for at most {MAX_TERMS} words at once")
    if any(len(word) > MAX_TERM for word in words):
        raise SearchError(f"a search word can be at most {MAX_TERM} characters")
    return words


def contains(comment: str | None, term: str) -> bool:
    """Whether `comment` holds the case-folded `term`."""
    return comment is not None and term in comment.casefold()


def matches(comment: str | None, words: tuple[str, ...]) -> bool:
    return all(contains(comment, word) for word in words)
