"""Storage: `Store` over one backend; SQL lives only in a backend (`store/sqlite/`)."""

from scorelet.store.cache import Store
from scorelet.store.errors import AlreadyExists, NotFound, Refused, StorageError, Unavailable
from scorelet.store.interface import Backend, Health, Recorded
from scorelet.store.records import ROLES, ApiKey, NewResponse, Response, ResponseQuery, User

__all__ = [
    "ROLES",
    "AlreadyExists",
    "ApiKey",
    "Backend",
    "Health",
    "NewResponse",
    "NotFound",
    "Recorded",
    "Refused",
    "Response",
    "ResponseQuery",
    "StorageError",
    "Store",
    "Unavailable",
    "User",
]
