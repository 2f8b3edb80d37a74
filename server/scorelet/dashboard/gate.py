"""Who is asking, and may they: sessions, roles and CSRF checks for every dashboard request.

Every page needs a signed-in account; every change needs an admin and a
form (or request) that proves it came from one of our own pages: the
request's Origin (when the browser sends one) must be this site, and its
CSRF token must be the one bound to the session. A viewer is refused by
the server, not only by hidden buttons. Failures are raised as `Redirect`
or `PageError`, which views.py turns into responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.requests import Request

from scorelet.api.services import Services
from scorelet.dashboard.sessions import FORM_COOKIE, SESSION_COOKIE, Session, Sessions
from scorelet.store import User

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM = 64 * 1024


class Redirect(Exception):
    """Not an error: where to go next (raised from deep in a page's handler)."""

    def __init__(self, url: str, cookies: dict[str, str | None] | None = None) -> None:
        super().__init__(url)
        self.url = url
        self.cookies = cookies or {}


class PageError(Exception):
    """A request answered with a page that says what went wrong and what to do."""

    def __init__(self, status: int, title: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.field = status, title, message, field


@dataclass(frozen=True, slots=True)
class Visitor:
    user: User
    session: Session
    csrf: str  # a token for this page's forms, masked afresh

    @property
    def admin(self) -> bool:
        return self.user.admin


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path on this site, nothing else."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return "/dashboard"


def login_url(request: Request, notice: str | None = None) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/dashboard/login?next=" + quote(path, safe="")
    return url + (f"&notice={notice}" if notice else "")


class Gate:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.sessions = Sessions(services.settings.secrets)

    def now(self) -> float:
        return self.services.store.clock()

    def secure(self, request: Request) -> bool:
        limits = self.services.limits
        return request.url.scheme == "https" or (limits is not None and limits.https(request.scope))

    async def visitor(self, request: Request) -> Visitor | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.decode(cookie, self.now()) if cookie else None
        if session is None:
            return None
        user = await self.services.store.user(session.user_id)
        if user is None or user.session_version != session.version:
            return None
        return Visitor(user, session, self.sessions.csrf_token(session.sid))

    async def require(self, request: Request) -> Visitor:
        """The signed-in visitor, or a redirect to the sign-in page that comes back here."""
        visitor = await self.visitor(request)
        if visitor is None:
            ended = "ended" if SESSION_COOKIE in request.cookies else None
            raise Redirect(login_url(request, ended), {SESSION_COOKIE: None})
        return visitor

    async def change(self, request: Request) -> tuple[Visitor, dict[str, str]]:
        """An admin's checked form: signed in, an admin, from our page, with its token."""
        visitor = await self.require(request)
        form = await self.form(request)
        if not self.same_site(request) or not self.sessions.csrf_ok(
            visitor.session.sid, form.get("csrf", "")
        ):
            raise refused_csrf()
        if not visitor.admin:
            raise PageError(
                403,
                "Viewers can't change anything",
                "Your account may look at everything but change nothing. Ask an admin to make"
                " the change, or to make you an admin (scorelet user add ... --role admin).",
            )
        return visitor, form

    async def signed_out_form(self, request: Request) -> dict[str, str]:
        """A form from before sign-in (sign-in, choosing a password), checked the same way
        against the random form cookie that its page set."""
        form = await self.form(request)
        binding = request.cookies.get(FORM_COOKIE, "")
        if not binding or not self.same_site(request):
            raise refused_csrf()
        if not self.sessions.csrf_ok("form:" + binding, form.get("csrf", "")):
            raise refused_csrf()
        return form

    def same_site(self, request: Request) -> bool:
        """The browser says the request came from this site (or says nothing: old browsers,
        which the CSRF token alone then guards)."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        if origin is None:
            return True
        scheme = "https" if self.secure(request) else "http"
        return origin == f"{scheme}://{request.headers.get('host', '')}"

    async def form(self, request: Request) -> dict[str, str]:
        """An urlencoded form of at most 64 KB, each field once; anything else is refused."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != FORM_TYPE:
            raise PageError(415, "Not a form", "Send the page's form, as the browser does.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                raise PageError(413, "Too much", "That form is larger than 64 KB.")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise PageError(400, "Unreadable form", "The form wasn't UTF-8.") from None
        form = dict(pairs)
        if len(form) != len(pairs):
            raise PageError(400, "Unreadable form", "A field was sent twice.")
        return form


def refused_csrf() -> PageError:
    return PageError(
        403,
        "This form has expired",
        "The form didn't come from a page of this dashboard, or your session changed since it"
        " was shown (signed out, or signed in again). Go back, reload the page and try again.",
    )
