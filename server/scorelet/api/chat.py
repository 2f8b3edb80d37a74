"""Rating conversations: minting subject tokens for chat backends, and a subject's own rating.

A chat backend holds a `mint` key and asks for one token per conversation;
the answer carries everything it hands on: the token for `Scorelet.mount`, a
script tag, and the hosted page's URL for an email or SMS link. The widget,
holding only that token, may read back the rating of its own conversation
(so it can show it and let it be changed), never anyone else's.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.auth import authorize
from scorelet.api.body import read_json
from scorelet.api.claims import check_origin
from scorelet.api.services import Services
from scorelet.mint import DEFAULT_TTL, mint_subject_token
from scorelet.shapes import NEW_TOKEN
from scorelet.timeutil import iso
from scorelet.views import CurrentRatingView, MintedTokenView, Snippets


def embed_snippets(base_url: str, token: str) -> Snippets:
    """What an integrator pastes: a script tag that renders in place, or a mount call."""
    quoted = json.dumps(token)
    return {
        "html": f'<script src="{base_url}/s/{token}.js" async></script>',
        "mount": f'<script src="{base_url}/widget.js" async></script>\n'
        "<script>window.Scorelet=window.Scorelet||function(){(Scorelet.q=Scorelet.q||[])"
        ".push(arguments)};\n"
        f'Scorelet("mount", document.getElementById("rating"), {{token: {quoted}}});</script>',
    }


class ChatApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def mint(self, request: Request) -> Response:
        """`POST /api/v1/tokens` (mint key): a subject token, its page URL and embed snippets."""
        await authorize(request, self.services.store, "mint")
        body = NEW_TOKEN.decode(await read_json(request, self.services.settings.max_body))
        slug, subject = body.touchpoint, body.subject
        await self.services.touchpoint(slug, "touchpoint")
        ttl = DEFAULT_TTL if body.ttl is None else body.ttl
        minted = mint_subject_token(self.services.signer, slug, subject, body.context, ttl)
        base = self.services.settings.base_url
        answer: MintedTokenView = {
            "token": minted.token,
            "touchpoint": slug,
            "subject": subject,
            "expires_at": iso(minted.expires_at),
            "rating_url": f"{base}/r/{minted.token}",
            "embed": embed_snippets(base, minted.token),
        }
        return JSONResponse(
            answer,
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    async def current(self, request: Request) -> Response:
        """`GET /api/v1/responses/current?token=s.…`: this conversation's rating, or null."""
        bearer = await self.services.ratings.subject_bearer(request.query_params.get("token"))
        check_origin(request, bearer.touchpoint)
        assert bearer.subject is not None
        stored = await self.services.ratings.current(bearer)
        answer: CurrentRatingView = {
            "touchpoint": bearer.touchpoint.slug,
            "subject": bearer.subject.subject,
            "expires_at": iso(bearer.subject.expires_at),
            "response": stored.public(bearer.touchpoint.slug) if stored else None,
        }
        return JSONResponse(
            answer,
            headers={"Cache-Control": "no-store"},
        )
