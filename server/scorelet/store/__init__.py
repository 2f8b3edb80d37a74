"""Storage: the only package with SQL in it. Everything else uses `Store`."""

from scorelet.store.database import Store
from scorelet.store.records import ApiKey, NewResponse, Response, ResponseQuery

__all__ = ["ApiKey", "NewResponse", "Response", "ResponseQuery", "Store"]
