"""The OpenAPI 3.1 description served at /openapi.json."""

from __future__ import annotations

from typing import Any

from scorelet import __version__


def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Scorelet", "version": __version__},
        "servers": [{"url": base_url}],
        "paths": {},
    }
