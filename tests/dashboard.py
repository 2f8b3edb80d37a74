"""Helpers for the dashboard's tests: accounts made through the store, a signed-in client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from conftest import LiveServer
from scorelet.accounts import Accounts
from scorelet.store import ApiKey, Store

T = TypeVar("T")

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Clients `sign_in` opened; `close_clients` closes them (tests call it from a fixture).
OPEN: list[httpx.Client] = []


def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` in a thread of its own: it may call asyncio.run even while Playwright's
    sync API holds an event loop in this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def add_user(server: LiveServer, email: str, role: str, password: str | None = PASSWORD) -> str:
    """Make an account on the server's database (as `scorelet user add` does); returns its
    set-password link token when no password is given."""

    async def add() -> str:
        store = await Store.open(server.settings.storage)
        try:
            accounts = Accounts(store, server.settings.secrets)
            user = await accounts.add(email, role, password)
            return accounts.link_token(user)
        finally:
            await store.close()

    return in_thread(asyncio.run, add())


def api_keys(server: LiveServer) -> list[ApiKey]:
    """The keys stored on the server's database, read as a new process would."""

    async def read() -> list[ApiKey]:
        store = await Store.open(server.settings.storage)
        try:
            return store.api_keys()
        finally:
            await store.close()

    return in_thread(asyncio.run, read())


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found[1]


def sign_in(
    server: LiveServer, email: str, password: str = PASSWORD, tz: str = "UTC"
) -> httpx.Client:
    """A client holding a fresh session for `email`."""
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=10)
    OPEN.append(client)
    page = client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login",
        data={"email": email, "password": password, "csrf": csrf_of(page.text), "tz": tz},
    )
    assert response.status_code == 303, response.text
    return client


def database(server: LiveServer) -> Path:
    return server.settings.database


def close_clients() -> None:
    while OPEN:
        OPEN.pop().close()


def admin_get(server: LiveServer, path: str) -> Any:
    with server.admin() as client:
        return client.get(path)
