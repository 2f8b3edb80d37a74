"""What storage raises: its own exceptions, never HTTP ones.

```
StorageError
 ├── Unavailable     the database can't be reached or can't take writes now
 ├── NotFound        no touchpoint, rating, key, rule, destination, digest or
 │                   delivery by that name or id
 ├── AlreadyExists   a touchpoint (slug), rule, destination or digest (name) exists
 └── Refused         a write the storage rules forbid: `code` says which
                     (id_conflict, edit_window_closed, token_mismatch,
                     destination_not_found, destination_in_use, tag_not_found ...)
```

`scorelet.errors.problem_of` turns each into the problem+json the API and
the CLI show; nothing in `store/` knows about status codes.
"""

from __future__ import annotations

NAMED = frozenset({"touchpoint", "rule", "destination", "digest"})


class StorageError(Exception):
    """Anything storage refuses or can't do; the message is one line for a person."""


class Unavailable(StorageError):
    """The database is down, full or read-only; nothing was stored. Worth retrying."""


class NotFound(StorageError):
    def __init__(self, what: str, key: str) -> None:
        named = "is named" if what in NAMED else "has the id"
        super().__init__(f"no {what} {named} {key[:64]!r}")
        self.what = what
        self.key = key


class AlreadyExists(StorageError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"a {what} named {key!r} exists")
        self.what = what
        self.key = key


class Refused(StorageError):
    """A write that breaks a storage rule, e.g. an id that belongs to another rating."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
