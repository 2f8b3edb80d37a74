"""The script tag's target, `/s/{token}.js`.

Until the widget lands this serves a small loader that announces itself and
renders nothing; an unknown, forged or revoked token logs one warning and
never throws into the host page.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from scorelet.api.claims import resolve_token
from scorelet.api.services import Services
from scorelet.errors import Problem

JS = "text/javascript; charset=utf-8"


def _warning(message: str) -> str:
    return f"console.warn({json.dumps('Scorelet: ' + message)});\n"


class EmbedApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def loader(self, request: Request) -> Response:
        try:
            bearer = resolve_token(
                self.services.signer, self.services.store, request.path_params["token"]
            )
        except Problem as problem:
            return Response(
                _warning(problem.detail), media_type=JS, headers={"Cache-Control": "no-store"}
            )
        config = json.dumps(bearer.touchpoint.public())
        script = f"/* Scorelet loader: the widget runtime is not built yet. */\nvoid {config};\n"
        return Response(script, media_type=JS, headers={"Cache-Control": "no-cache"})
