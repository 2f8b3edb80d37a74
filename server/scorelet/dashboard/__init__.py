"""The dashboard at /dashboard: server-rendered pages for people who don't use curl.

Accounts and sessions (gate.py, sessions.py, login.py), the pages people
read (views.py), admin pages (admin.py), one filter state in the URL
(filters.py) and SVG charts (charts.py). Every number comes from the use
cases in ratings.py, the same that answer the API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scorelet.api.embed import serve
from scorelet.api.services import Services
from scorelet.dashboard.admin import AdminPages
from scorelet.dashboard.gate import Gate, PageError, Redirect
from scorelet.dashboard.login import LoginPages
from scorelet.dashboard.render import Renderer
from scorelet.dashboard.sessions import COOKIE_PATH
from scorelet.dashboard.views import Views
from scorelet.errors import Problem

__all__ = ["dashboard_routes"]
log = logging.getLogger("scorelet")
Handler = Callable[[Request], Awaitable[Response]]
IMMUTABLE = "public, max-age=31536000, immutable"


def dashboard_routes(services: Services) -> list[BaseRoute]:
    renderer = Renderer(services.settings.frame_ancestors)
    gate = Gate(services)
    login, views, admin = (
        LoginPages(gate, renderer),
        Views(gate, renderer),
        AdminPages(gate, renderer),
    )

    def page(handler: Handler) -> Handler:
        """Redirects and page errors become responses; a viewer sees a page, not JSON."""

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except Redirect as redirect:
                response = Response(status_code=303, headers={"Location": redirect.url})
                for name, value in redirect.cookies.items():
                    if value is None:
                        response.delete_cookie(name, path=COOKIE_PATH)
                return response
            except PageError as error:
                visitor = await gate.visitor(request)
                context = {
                    "visitor": visitor,
                    "csrf": visitor.csrf if visitor else None,
                    "title": error.title,
                    "message": error.message,
                    "back": request.headers.get("referer") if visitor else None,
                }
                return renderer.page(request, "message.html", context, error.status)

        return run

    async def static(request: Request) -> Response:
        name, tag = request.path_params["name"], request.path_params["hash"]
        asset = {"css": renderer.css, "js": renderer.js}.get(name)
        if asset is None or tag != asset.tag:
            raise Problem(404, "asset_not_found", "no dashboard asset has this name and hash")
        response = serve(request, asset, IMMUTABLE)
        if name == "css" and response.status_code == 200:
            response.headers["content-type"] = "text/css; charset=utf-8"
        return response

    get, post = ["GET"], ["POST"]
    table = [
        ("/dashboard", views.overview, get),
        ("/dashboard/login", login.login, get),
        ("/dashboard/login", login.sign_in, post),
        ("/dashboard/logout", login.sign_out, post),
        ("/dashboard/password/{token}", login.password, get),
        ("/dashboard/password/{token}", login.set_password, post),
        ("/dashboard/live", views.live, get),
        ("/dashboard/t/{slug}", views.touchpoint, get),
        ("/dashboard/t/{slug}/export", views.export, get),
        ("/dashboard/ratings/{id}", views.rating, get),
        ("/dashboard/ratings/{id}/delete", views.delete_rating, post),
        ("/dashboard/admin/touchpoints", admin.touchpoints, get),
        ("/dashboard/admin/touchpoints", admin.create_touchpoint, post),
        ("/dashboard/admin/touchpoints/{slug}", admin.touchpoint, get),
        ("/dashboard/admin/touchpoints/{slug}", admin.update_touchpoint, post),
        ("/dashboard/admin/touchpoints/{slug}/{action}", admin.touchpoint_action, post),
        ("/dashboard/preview/{slug}/s/{token}.js", admin.preview_loader, get),
        ("/dashboard/preview/{slug}/api/v1/{path:path}", admin.preview_sink, ["POST", "PATCH"]),
        ("/dashboard/admin/keys", admin.keys, get),
        ("/dashboard/admin/keys", admin.create_key, post),
        ("/dashboard/admin/keys/{id}/revoke", admin.revoke_key, post),
        ("/dashboard/admin/users", admin.users, get),
        ("/dashboard/admin/users", admin.add_user, post),
        ("/dashboard/admin/users/{action}", admin.user_action, post),
    ]
    routes: list[BaseRoute] = [
        Route(path, page(handler), methods=methods) for path, handler, methods in table
    ]
    routes.append(Route("/dashboard/static/dashboard.{hash}.{name}", static, methods=get))
    return routes
