"""`create_app(settings)`: the ASGI app with its routes, middleware and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, ExceptionHandler

from scorelet.api import Services, routes
from scorelet.api.middleware.deadlines import BodyDeadlines
from scorelet.api.middleware.direct import DirectRoutes
from scorelet.api.middleware.guard import Guard
from scorelet.api.middleware.metrics import RequestMetrics
from scorelet.api.problems import handle_problem
from scorelet.config import Settings, resolve_secrets
from scorelet.dashboard import dashboard_routes
from scorelet.errors import Problem, handle_crash, handle_http
from scorelet.limits import Limits, Rate
from scorelet.routing.worker import Worker, WorkerSettings
from scorelet.store import StorageError, Store
from scorelet.tokens import Signer

log = logging.getLogger("scorelet")
MAINTENANCE_INTERVAL = 1.0


def create_app(
    settings: Settings,
    on_ready: Callable[[Store], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The app for `settings`; the database opens when the server starts the lifespan.

    The data directory must exist, with a secret unless SCORELET_SECRET is set:
    `scorelet init` (or the first `scorelet serve`) makes it. `clock` is the time
    ratings are stamped with (tests move it to cross edit windows).
    """
    settings = resolve_secrets(settings)  # with PostgreSQL: `signing_settings` first
    limits = limits_for(settings)
    services = Services(settings, Signer(settings.secrets), limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(
            settings.storage, settings.synchronous, clock, settings.database_listen_url
        )
        services.store = store
        maintenance = asyncio.create_task(_maintain(store), name="scorelet-maintenance")
        worker = Worker(store, services.routing, worker_settings(settings))
        deliveries = asyncio.create_task(worker.run(), name="scorelet-deliveries")
        if on_ready is not None:
            on_ready(store)
        try:
            yield
        finally:
            for task in (deliveries, maintenance):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await store.close()
            services.store = None

    api = routes(services)
    deadlines = BodyDeadlines(settings.body_timeout)

    def outside(app: ASGIApp) -> ASGIApp:
        return RequestMetrics(Guard(app, limits, deadlines), services.stats)

    return App(
        outside,
        lambda app, handlers: DirectRoutes(app, api.submit, api.score, handlers),
        routes=api.routes + dashboard_routes(services),
        exception_handlers={
            Problem: handle_problem,
            StorageError: handle_problem,
            HTTPException: handle_http,
            Exception: handle_crash,
        },
        lifespan=lifespan,
    )


class App(Starlette):
    """Starlette with Scorelet's own layers outside its stack, not inside.

    Metrics and abuse controls run before everything; then the direct routes
    (api/middleware/direct.py), so the busiest requests never pay for Starlette's error
    and routing layers. Middleware an embedder adds (`app.add_middleware`)
    wraps the direct routes too, so it sees every request, and the direct
    routes answer errors with the app's exception handlers, added ones
    included. `create_app` is still a Starlette app in every other way.
    """

    def __init__(
        self,
        outside: Callable[[ASGIApp], ASGIApp],
        direct: Callable[[ASGIApp, Mapping[Any, ExceptionHandler]], ASGIApp],
        **kwargs: Any,
    ) -> None:
        self._outside = outside
        self._direct = direct
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        added, self.user_middleware = self.user_middleware, []
        try:
            app = self._direct(super().build_middleware_stack(), self.exception_handlers)
        finally:
            self.user_middleware = added
        for cls, args, kwargs in reversed(added):
            app = cls(app, *args, **kwargs)
        return self._outside(app)


def worker_settings(settings: Settings) -> WorkerSettings:
    return WorkerSettings(
        lease=settings.delivery_lease,
        schedule=settings.retry_schedule,
        timeout=settings.delivery_timeout,
        allow_private=settings.allow_private_destinations,
    )


def limits_for(settings: Settings) -> Limits:
    return Limits(
        Rate(settings.ip_rate, settings.ip_burst),
        Rate(settings.touchpoint_rate, settings.touchpoint_burst),
        settings.trusted_proxies,
        enabled=settings.rate_limit,
    )


async def _maintain(store: Store) -> None:
    """Once a second: fold new ratings into the rollups, checkpoint, see others' changes."""
    while True:
        await asyncio.sleep(MAINTENANCE_INTERVAL)
        try:
            await store.maintain()
        except StorageError as error:  # the database is away: serving goes on, retry next tick
            log.warning("database maintenance failed: %s", error)
        except Exception:
            log.exception("database maintenance failed")
