"""Admin pages: touchpoints (with a widget preview), API keys and accounts.

Viewers see these pages too, without their forms; every change goes through
`Gate.change`, which refuses viewers and forged forms on the server. The
rules of each change are the same as the CLI's and the API's: touchpoints.py
checks fields, the store makes keys, accounts.py runs accounts.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scorelet.api.services import Services
from scorelet.dashboard.gate import Gate, PageError, Redirect, Visitor
from scorelet.dashboard.render import Renderer
from scorelet.errors import Problem
from scorelet.scales import NUMERIC_MAX
from scorelet.store import StorageError
from scorelet.strings import choose_language
from scorelet.touchpoints import (
    BRAND_FIELDS,
    GROUPS,
    TEXT_LIMITS,
    Touchpoint,
    changed_fields,
    new_touchpoint_fields,
)
from scorelet.widget import Runtime, loader_config, loader_source, runtime

SCALES = ("stars", "smileys", "smileys3", *(f"numeric:{n}" for n in range(3, NUMERIC_MAX + 1)))
PREVIEW_TOKEN = "preview"
NOTICES = {
    "created": "Touchpoint added. Paste the snippet below where the widget should appear.",
    "saved": "Saved.",
    "paused": "Paused: the widget shows nothing and ratings are refused until you resume.",
    "resumed": "Resumed: the widget asks again.",
    "rotated": "The embed token is new: the old snippet stops working now. Paste this one.",
}


def problem_text(error: Exception) -> tuple[str, str | None]:
    """A refusal's message and field, for the form to show beside the field."""
    from scorelet.api.problems import problem_of

    problem = problem_of(error)
    return problem.detail[0].upper() + problem.detail[1:] + ".", problem.field


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _number(form: dict[str, str], name: str) -> int | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    if not value.lstrip("-").isdigit() or len(value) > 6:
        raise Problem(422, "wrong_type", f"{name.replace('_', ' ')} must be a whole number", name)
    return int(value)


def settings_from_form(form: dict[str, str], metric: str) -> dict[str, Any]:
    """A touchpoint's editable settings as the form gives them; empty means the default."""
    fields: dict[str, Any] = {name: _text(form, name) for name in (*TEXT_LIMITS, *BRAND_FIELDS)}
    fields["locale"] = _text(form, "locale")
    fields["origins"] = [
        line.strip() for line in form.get("origins", "").splitlines() if line.strip()
    ]
    fields["comment_prompts"] = {
        group: text for group in GROUPS[metric] if (text := _text(form, f"prompt_{group}"))
    }
    cooldown = _number(form, "cooldown_days")
    fields["cooldown_days"] = cooldown if cooldown is not None else 0
    satisfied = _number(form, "satisfied_from")
    if metric == "csat" and satisfied is not None:
        fields["satisfied_from"] = satisfied
    return fields


class AdminPages:
    def __init__(self, gate: Gate, renderer: Renderer, widget: Runtime | None = None) -> None:
        self.gate = gate
        self.renderer = renderer
        self.runtime = widget or runtime()

    @property
    def services(self) -> Services:
        return self.gate.services

    def _page(
        self, request: Request, visitor: Visitor, name: str, status: int = 200, **context: Any
    ) -> Response:
        base = {
            "visitor": visitor,
            "csrf": visitor.csrf,
            "notice": None,
            "error": None,
            "field": None,
        }
        return self.renderer.page(request, name, {**base, **context}, status)

    def _touchpoint(self, slug: str) -> Touchpoint:
        touchpoint = self.services.store.touchpoint(slug)
        if touchpoint is None:
            raise PageError(404, "No such touchpoint", f"No touchpoint is named {slug[:64]!r}.")
        return touchpoint

    # -- touchpoints -------------------------------------------------------------------------

    async def touchpoints(self, request: Request, status: int = 200, **extra: Any) -> Response:
        visitor = await self.gate.require(request)
        context = {
            "title": "Touchpoints",
            "touchpoints": self.services.store.touchpoints(),
            "scales": SCALES,
            "form": {},
            **extra,
        }
        return self._page(request, visitor, "touchpoints.html", status, **context)

    async def create_touchpoint(self, request: Request) -> Response:
        _, form = await self.gate.change(request)
        metric = form.get("metric", "")
        try:
            body: dict[str, Any] = {"slug": form.get("slug", "").strip(), "metric": metric}
            if metric == "csat":
                body["scale"] = form.get("scale") or "stars"
            if metric in GROUPS:
                body |= {k: v for k, v in settings_from_form(form, metric).items() if v}
            fields = new_touchpoint_fields(body)
            touchpoint = await self.services.store.create_touchpoint(fields)
        except (Problem, StorageError) as error:
            message, field = problem_text(error)
            return await self.touchpoints(request, 400, error=message, field=field, form=form)
        raise Redirect(f"/dashboard/admin/touchpoints/{touchpoint.slug}?notice=created")

    async def touchpoint(self, request: Request, status: int = 200, **extra: Any) -> Response:
        visitor = await self.gate.require(request)
        touchpoint = self._touchpoint(request.path_params["slug"])
        token = self.services.signer.mint_embed(touchpoint.slug, touchpoint.token_version)
        base = self.services.settings.base_url
        context = {
            "title": f"Settings of {touchpoint.slug}",
            "touchpoint": touchpoint,
            "settings": touchpoint.public(),
            "groups": GROUPS[touchpoint.metric],
            "snippet": f'<script src="{base}/s/{token}.js" async></script>',
            "preview": f"/dashboard/preview/{touchpoint.slug}",
            "notice": NOTICES.get(request.query_params.get("notice", "")),
            "form": None,
            "field": None,
            **extra,
        }
        return self._page(request, visitor, "touchpoint_settings.html", status, **context)

    async def update_touchpoint(self, request: Request) -> Response:
        _, form = await self.gate.change(request)
        touchpoint = self._touchpoint(request.path_params["slug"])
        try:
            fields = changed_fields(
                touchpoint.metric, touchpoint.scale, settings_from_form(form, touchpoint.metric)
            )
            await self.services.store.update_touchpoint(touchpoint.slug, fields)
        except (Problem, StorageError) as error:
            message, field = problem_text(error)
            return await self.touchpoint(request, 400, error=message, field=field, form=form)
        raise Redirect(f"/dashboard/admin/touchpoints/{touchpoint.slug}?notice=saved")

    async def touchpoint_action(self, request: Request) -> Response:
        """Pause, resume, rotate the embed token, or remove (with the slug typed to confirm)."""
        _, form = await self.gate.change(request)
        touchpoint = self._touchpoint(request.path_params["slug"])
        action, store = request.path_params["action"], self.services.store
        if action in ("pause", "resume"):
            await store.update_touchpoint(touchpoint.slug, {"active": action == "resume"})
            notice = "paused" if action == "pause" else "resumed"
            raise Redirect(f"/dashboard/admin/touchpoints/{touchpoint.slug}?notice={notice}")
        if action == "rotate":
            await store.update_touchpoint(touchpoint.slug, {}, rotate_token=True)
            raise Redirect(f"/dashboard/admin/touchpoints/{touchpoint.slug}?notice=rotated")
        if action == "remove":
            if form.get("confirm", "").strip() != touchpoint.slug:
                return await self.touchpoint(
                    request,
                    400,
                    error=f"Type {touchpoint.slug} to confirm: removing deletes every rating too.",
                    field="confirm",
                )
            await store.delete_touchpoint(touchpoint.slug)
            raise Redirect("/dashboard/admin/touchpoints?notice=removed")
        raise PageError(
            404, "No such action", f"{action[:40]!r} is not something a touchpoint does."
        )

    # -- the widget preview: the real widget, talking to a sink that stores nothing ----------

    async def preview_loader(self, request: Request) -> Response:
        await self.gate.require(request)
        touchpoint = self._touchpoint(request.path_params["slug"])
        strings = self.runtime.strings
        language = choose_language([request.query_params.get("l"), touchpoint.locale], strings)
        config = loader_config(touchpoint, PREVIEW_TOKEN, {language: strings[language]})
        config["api"] = f"{request.url.scheme}://{request.headers.get('host', '')}" + (
            f"/dashboard/preview/{touchpoint.slug}"
        )
        config["cooldown_days"] = 0
        source = loader_source(self.runtime, config)
        return Response(
            source,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    async def preview_sink(self, request: Request) -> Response:
        """What the preview's widget posts to: answered like the API, stored nowhere."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 16384:
                break
        try:
            sent = json.loads(body or b"{}")
        except ValueError:
            sent = {}
        if request.path_params["path"] == "impressions":
            return Response(status_code=204)
        given = sent.get("id") if isinstance(sent, dict) else None
        rating_id = given if isinstance(given, str) and len(given) < 64 else str(uuid.uuid4())
        return JSONResponse({"id": rating_id, "preview": True}, status_code=201)

    # -- API keys ------------------------------------------------------------------------------

    async def keys(self, request: Request, status: int = 200, **extra: Any) -> Response:
        visitor = await self.gate.require(request)
        context = {"title": "API keys", "keys": self.services.store.api_keys(), "created": None}
        return self._page(request, visitor, "keys.html", status, **{**context, **extra})

    async def create_key(self, request: Request) -> Response:
        _, form = await self.gate.change(request)
        scope = form.get("scope", "")
        name = (form.get("name") or "").strip() or None
        if scope not in ("read", "admin", "mint"):
            return await self.keys(
                request, 400, error="Choose a scope: read, mint or admin.", field="scope"
            )
        if name is not None and len(name) > 100:
            return await self.keys(
                request, 400, error="Names can have 100 characters.", field="name"
            )
        key, full = await self.services.store.create_api_key(scope, name)
        return await self.keys(request, created={"key": key, "secret": full})

    async def revoke_key(self, request: Request) -> Response:
        await self.gate.change(request)
        try:
            await self.services.store.revoke_api_key(request.path_params["id"])
        except StorageError as error:
            return await self.keys(request, 400, error=problem_text(error)[0])
        raise Redirect("/dashboard/admin/keys")

    # -- accounts ------------------------------------------------------------------------------

    async def users(self, request: Request, status: int = 200, **extra: Any) -> Response:
        visitor = await self.gate.require(request)
        context: dict[str, Any] = {
            "title": "Accounts",
            "users": await self.services.store.users(),
            "link": None,
            "form": {},
        }
        return self._page(request, visitor, "users.html", status, **{**context, **extra})

    def _link(self, request: Request, token: str) -> str:
        return f"{self.services.settings.base_url}/dashboard/password/{token}"

    async def add_user(self, request: Request) -> Response:
        _, form = await self.gate.change(request)
        accounts = self.services.accounts
        try:
            user = await accounts.add(form.get("email", ""), form.get("role", ""), None)
        except (Problem, StorageError) as error:
            message, field = problem_text(error)
            return await self.users(request, 400, error=message, field=field, form=form)
        link = {"email": user.email, "url": self._link(request, accounts.link_token(user))}
        return await self.users(request, link=link)

    async def user_action(self, request: Request) -> Response:
        visitor, form = await self.gate.change(request)
        accounts, action = self.services.accounts, request.path_params["action"]
        email = form.get("email", "")
        try:
            if action == "remove":
                await accounts.remove(email, acting=visitor.user)
                raise Redirect("/dashboard/admin/users")
            if action == "reset":
                user = await accounts.reset(email)
                link = {"email": user.email, "url": self._link(request, accounts.link_token(user))}
                return await self.users(request, link=link)
        except (Problem, StorageError) as error:
            return await self.users(request, 400, error=problem_text(error)[0])
        raise PageError(404, "No such action", f"{action[:40]!r} is not something accounts do.")
