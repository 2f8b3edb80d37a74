"""`create_app(settings)`: the ASGI app with its routes, middleware and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from scorelet.api import Services, routes
from scorelet.api.deadlines import BodyDeadlines
from scorelet.api.guard import Guard
from scorelet.api.limits import Limits, Rate
from scorelet.api.requests import RequestMetrics
from scorelet.config import Settings, resolve_secrets
from scorelet.demo import DEMO_TOUCHPOINTS
from scorelet.errors import Problem, handle_crash, handle_http, handle_problem
from scorelet.store import Store
from scorelet.tokens import Signer
from scorelet.touchpoints import new_touchpoint_fields

log = logging.getLogger("scorelet")
MAINTENANCE_INTERVAL = 1.0


def create_app(
    settings: Settings,
    on_ready: Callable[[Store], None] | None = None,
    demo: bool = False,
) -> Starlette:
    """The app for `settings`; the database opens when the server starts the lifespan.

    With `demo`, an empty database gets the demo touchpoints shown at `/`.
    """
    settings = resolve_secrets(settings)
    limits = limits_for(settings)
    services = Services(settings, Signer(settings.secrets), limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(settings.database, settings.synchronous)
        services.store = store
        if demo and not store.touchpoints():
            for fields in DEMO_TOUCHPOINTS:
                await store.create_touchpoint(new_touchpoint_fields(fields))
        maintenance = asyncio.create_task(_maintain(store), name="scorelet-maintenance")
        if on_ready is not None:
            on_ready(store)
        try:
            yield
        finally:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            await store.close()
            services.store = None

    return Starlette(
        routes=routes(services),
        middleware=[
            Middleware(RequestMetrics, stats=services.stats),
            Middleware(Guard, limits=limits, deadlines=BodyDeadlines(settings.body_timeout)),
        ],
        exception_handlers={
            Problem: handle_problem,
            HTTPException: handle_http,
            Exception: handle_crash,
        },
        lifespan=lifespan,
    )


def limits_for(settings: Settings) -> Limits:
    return Limits(
        Rate(settings.ip_rate, settings.ip_burst),
        Rate(settings.touchpoint_rate, settings.touchpoint_burst),
        settings.trusted_proxies,
        enabled=settings.rate_limit,
    )


async def _maintain(store: Store) -> None:
    while True:
        await asyncio.sleep(MAINTENANCE_INTERVAL)
        try:
            await store.maintain()
        except Exception:  # keep serving; the next tick tries again
            log.exception("database maintenance failed")
