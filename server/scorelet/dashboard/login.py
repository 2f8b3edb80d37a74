"""Signing in and out, and choosing a password from a one-time link."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scorelet.dashboard.gate import Gate, PageError, Redirect, safe_next
from scorelet.dashboard.render import Renderer
from scorelet.dashboard.sessions import COOKIE_PATH, FORM_COOKIE, SESSION_COOKIE
from scorelet.dashboard.throttle import SignInThrottle
from scorelet.errors import Problem
from scorelet.series import SeriesError, zone

NOTICES = {
    "ended": "Your session has ended (it expired, or you signed out elsewhere). Sign in again.",
    "out": "You are signed out.",
    "password": "Your password is set. Sign in with it.",
}
FORM_COOKIE_AGE = 3600


class LoginPages:
    def __init__(self, gate: Gate, renderer: Renderer) -> None:
        self.gate = gate
        self.renderer = renderer
        self.throttle = SignInThrottle()

    def _form_page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A page with a signed-out form: a fresh form cookie and the token bound to it."""
        binding = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(18)
        token = self.gate.sessions.csrf_token("form:" + binding)
        response = self.renderer.page(
            request, template, {"csrf": token, "visitor": None, **context}, status, headers
        )
        response.set_cookie(
            FORM_COOKIE,
            binding,
            max_age=FORM_COOKIE_AGE,
            path=COOKIE_PATH,
            secure=self.gate.secure(request),
            httponly=True,
            samesite="strict",
        )
        return response

    async def login(self, request: Request) -> Response:
        if await self.gate.visitor(request) is not None:
            raise Redirect(safe_next(request.query_params.get("next")))
        notice = NOTICES.get(request.query_params.get("notice", ""))
        first = not await self.gate.services.store.users()
        context = {
            "next": safe_next(request.query_params.get("next")),
            "email": "",
            "notice": notice,
            "error": None,
            "first": first,
            "title": "Sign in",
        }
        return self._form_page(request, "login.html", context)

    async def sign_in(self, request: Request) -> Response:
        form = await self.gate.signed_out_form(request)
        email = form.get("email", "").strip().lower()[:254]
        target = safe_next(form.get("next"))
        context: dict[str, Any] = {
            "next": target,
            "email": email,
            "notice": None,
            "first": False,
            "title": "Sign in",
        }
        if not email or not form.get("password"):
            context["error"] = "Enter your email address and your password."
            return self._form_page(request, "login.html", context, 400)
        services = self.gate.services
        ip = services.limits.client_ip(request.scope) if services.limits else "?"
        refusal = self.throttle.refusal(email, ip)
        if refusal:
            context["error"] = refusal
            return self._form_page(request, "login.html", context, 429, {"Retry-After": "60"})
        user = await services.accounts.sign_in(email, form["password"])
        if user is None:
            self.throttle.failed(email, ip)
            context["error"] = (
                "That email address and password don't match an account. Forgot the password?"
                " An admin can send you a new link (scorelet user reset EMAIL)."
            )
            return self._form_page(request, "login.html", context, 401)
        # A new session id on every sign-in: a cookie planted before it is worthless after.
        session = self.gate.sessions.new(
            user.id,
            user.session_version,
            self.gate.now(),
            services.settings.session_ttl,
            _time_zone(form.get("tz", "")),
        )
        response = Response(status_code=303, headers={"Location": target})
        response.set_cookie(
            SESSION_COOKIE,
            self.gate.sessions.encode(session),
            max_age=int(services.settings.session_ttl),
            path=COOKIE_PATH,
            secure=self.gate.secure(request),
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(FORM_COOKIE, path=COOKIE_PATH)
        return response

    async def sign_out(self, request: Request) -> Response:
        visitor = await self.gate.visitor(request)
        form = await self.gate.form(request)
        if visitor is not None:
            if not self.gate.same_site(request) or not self.gate.sessions.csrf_ok(
                visitor.session.sid, form.get("csrf", "")
            ):
                raise PageError(403, "This form has expired", "Reload the page and try again.")
            await self.gate.services.accounts.end_sessions(visitor.user)
        raise Redirect("/dashboard/login?notice=out", {SESSION_COOKIE: None})

    async def password(self, request: Request) -> Response:
        user = await self._linked(request)
        context = {"email": user.email, "error": None, "title": "Choose a password"}
        return self._form_page(request, "password.html", context)

    async def set_password(self, request: Request) -> Response:
        user = await self._linked(request)
        form = await self.gate.signed_out_form(request)
        password = form.get("password", "")
        context: dict[str, Any] = {"email": user.email, "error": None, "title": "Choose a password"}
        if password != form.get("confirm", ""):
            context["error"] = "The two passwords differ; type the same one twice."
            return self._form_page(request, "password.html", context, 400)
        try:
            await self.gate.services.accounts.set_password(request.path_params["token"], password)
        except Problem as problem:
            context["error"] = problem.detail[0].upper() + problem.detail[1:] + "."
            return self._form_page(request, "password.html", context, 400)
        raise Redirect("/dashboard/login?notice=password", {SESSION_COOKIE: None})

    async def _linked(self, request: Request) -> Any:
        try:
            return await self.gate.services.accounts.linked_user(request.path_params["token"])
        except Problem as problem:
            raise PageError(
                problem.status,
                "This link doesn't work",
                f"{problem.detail[0].upper()}{problem.detail[1:]}. Ask an admin for a new one"
                " (scorelet user reset EMAIL).",
            ) from None


def _time_zone(name: str) -> str:
    """The browser's time zone as the sign-in page's script reported it, if it is real."""
    try:
        return zone(name).key if name and len(name) < 64 else "UTC"
    except SeriesError:
        return "UTC"
