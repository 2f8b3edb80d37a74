"""Identified people: identity tokens, when to ask them, their history, erasure, settings.

- `POST /api/v1/identities` (mint key): an identity token for a signed-in
  person, minted by the site's backend (never the browser).
- `GET /api/v1/eligibility?token=&identity=[&event=]` (public, like the
  widget's other calls): `{show, reason, detail, next_eligible_at}`.
- `GET /api/v1/people/{id}` (read key): traits, ratings and displays.
- `DELETE /api/v1/people/{id}` (admin key): erase the person everywhere.
- `GET`/`PATCH /api/v1/settings`: install-wide settings (the global throttle).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.auth import authorize
from scorelet.api.body import read_json
from scorelet.api.claims import check_origin
from scorelet.api.services import Services
from scorelet.eligibility import EVENT_NAME, GLOBAL_SETTINGS, check_setting
from scorelet.errors import Problem, bad_query, invalid
from scorelet.mint import DEFAULT_IDENTITY_TTL, mint_identity_token
from scorelet.people import check_person
from scorelet.shapes import NEW_IDENTITY
from scorelet.timeutil import iso
from scorelet.tokens import MAX_TOKEN_LENGTH
from scorelet.validation import wrong_type
from scorelet.views import EligibilityView, ErasedView, MintedIdentityView, SettingsView

NO_STORE = {"Cache-Control": "no-store"}
ELIGIBILITY_PARAMS = frozenset({"token", "identity", "event"})


def person_id(request: Request) -> str:
    try:
        return check_person(request.path_params["id"], "id")
    except Problem:
        raise bad_query(
            "id", "a person id is 1-200 characters without control characters"
        ) from None


class PeopleApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def mint(self, request: Request) -> Response:
        """`POST /api/v1/identities` (mint key): the token for `data-identity`."""
        await authorize(request, self.services.store, "mint")
        body = NEW_IDENTITY.decode(await read_json(request, self.services.settings.max_body))
        minted = mint_identity_token(
            self.services.signer,
            body.person,
            body.traits,
            body.ttl if body.ttl is not None else DEFAULT_IDENTITY_TTL,
        )
        answer: MintedIdentityView = {
            "identity": minted.token,
            "person": body.person,
            "traits": body.traits or {},
            "expires_at": iso(minted.expires_at),
        }
        return JSONResponse(
            answer,
            status_code=201,
            headers=NO_STORE,
        )

    async def eligibility(self, request: Request) -> Response:
        """`GET /api/v1/eligibility`: whether the widget shows to this person now, and why."""
        params: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            if name not in ELIGIBILITY_PARAMS:
                raise bad_query(
                    name[:64], f"unknown parameter {name[:64]!r}: token, identity, event"
                )
            if name in params:
                raise bad_query(name, f"{name} is given more than once")
            if len(value) > MAX_TOKEN_LENGTH:
                raise bad_query(name, f"{name} is too long")
            params[name] = value
        if "token" not in params:
            raise bad_query("token", "token is required: the touchpoint's embed or subject token")
        event = params.get("event")
        if event is not None and not EVENT_NAME.fullmatch(event):
            raise bad_query("event", "event is 1-64 letters, digits, '_', '.', ':' or '-'")
        ratings = self.services.ratings
        bearer = await ratings.bearer(params["token"])
        check_origin(request, bearer.touchpoint)
        identity = ratings.identity(params.get("identity"))
        decision = await ratings.eligibility(bearer.touchpoint, identity, event)
        answer: EligibilityView = {"touchpoint": bearer.touchpoint.slug, **decision.public()}
        return JSONResponse(answer, headers=NO_STORE)

    async def person(self, request: Request) -> Response:
        await authorize(request, self.services.store, "read")
        body = await self.services.ratings.person(person_id(request))
        return JSONResponse(body, headers=NO_STORE)

    async def forget(self, request: Request) -> Response:
        """`DELETE /api/v1/people/{id}` (admin key): a data-protection erasure."""
        await authorize(request, self.services.store, "admin")
        gone = await self.services.ratings.forget(person_id(request))
        answer: ErasedView = {
            "person": gone.person,
            "responses_removed": len(gone.responses),
            "impressions_removed": sum(gone.impressions.values()),
        }
        return JSONResponse(answer, headers=NO_STORE)

    async def settings(self, request: Request) -> Response:
        await authorize(request, self.services.store, "read")
        return JSONResponse(self._settings(), headers=NO_STORE)

    async def update_settings(self, request: Request) -> Response:
        """`PATCH /api/v1/settings` (admin key): e.g. {"recontact-days": 30}."""
        await authorize(request, self.services.store, "admin")
        body = await read_json(request, self.services.settings.max_body)
        checked = {}
        for name, value in body.items():
            if name not in GLOBAL_SETTINGS:
                raise invalid(
                    str(name)[:64], f"unknown setting {str(name)[:64]!r}", "unknown_field"
                )
            if isinstance(value, bool) or not isinstance(value, int):
                raise wrong_type(name, "a whole number of days (0: off)")
            try:
                checked[name] = check_setting(name, str(value))
            except ValueError as error:
                raise invalid(name, str(error), "out_of_range") from None
        for name, value in checked.items():
            await self.services.store.save_setting(name, value)
        return JSONResponse(self._settings(), headers=NO_STORE)

    def _settings(self) -> SettingsView:
        stored = self.services.store.settings()
        return {"recontact-days": int(stored.get("recontact-days", "0"))}
