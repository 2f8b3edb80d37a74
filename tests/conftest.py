"""Shared fixtures: a real Scorelet on a real uvicorn server, on a real database.

`server` runs one server per test module (tests make their own touchpoints
with unique slugs); `fresh_server` runs one per test. Both start uvicorn in a
thread on a free port, with an admin and a read key made beforehand, on the
SQLite file in a data directory; a module that concerns storage runs its
tests on every backend by saying so:

    ON_EVERY_BACKEND = True
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import ssl
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from backends import BACKENDS, Given, load, open_store
from postgres import database_for, remove_cluster
from scorelet.app import create_app
from scorelet.cli import main
from scorelet.config import SECRET_FILE, Settings
from scorelet.store.postgres.backend import database_secrets
from scorelet.testing import free_socket, serve_in_thread

SECRET = "test-secret-0123456789abcdef"


# One TLS context for every client the tests open: httpx otherwise loads the CA bundle for
# each client (tens of milliseconds), though every test server speaks plain HTTP.
TLS = ssl.create_default_context()


@pytest.fixture(scope="session", autouse=True)
def throwaway_postgres() -> Iterator[None]:
    """The throw-away PostgreSQL goes with the session: a pytest-xdist worker can be ended
    before its atexit handlers have deleted the server's files."""
    yield
    remove_cluster()


@dataclass
class LiveServer:
    url: str
    settings: Settings
    admin_key: str
    read_key: str
    mint_key: str
    backend: str = "sqlite"

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, verify=TLS, **kwargs)

    def admin(self) -> httpx.Client:
        return self.client(self.admin_key)

    def reader(self) -> httpx.Client:
        return self.client(self.read_key)

    def ratings(self, slug: str) -> list[dict[str, Any]]:
        """Every stored rating of `slug`, oldest first, as the API lists them."""
        with self.reader() as client:
            exported = client.get(
                f"/api/v1/touchpoints/{slug}/responses", params={"format": "ndjson"}
            )
        assert exported.status_code == 200, exported.text
        found = [json.loads(line) for line in exported.text.splitlines()]
        return sorted(found, key=lambda rating: (rating["created_at"], rating["id"]))

    def load(self, slug: str, ratings: list[Given]) -> None:
        """Store ratings at chosen moments (through the storage interface, as `scorelet
        import` does) and wait until this server counts them: it looks once a second."""
        expected = self.score(slug)["responses"] + load(
            self.settings.data_dir, slug, ratings, self.backend
        )
        deadline = time.monotonic() + 10
        while self.score(slug)["responses"] != expected:
            assert time.monotonic() < deadline, "the server never saw the loaded ratings"
            time.sleep(0.02)

    def score(self, slug: str, **params: str) -> dict[str, Any]:
        with self.reader() as client:
            response = client.get(f"/api/v1/touchpoints/{slug}/score", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def add_touchpoint(self, **fields: Any) -> dict[str, Any]:
        """Create a touchpoint over the admin API; returns its JSON (with embed_token)."""
        fields.setdefault("slug", f"tp-{uuid.uuid4().hex[:10]}")
        fields.setdefault("metric", "csat")
        with self.admin() as client:
            response = client.post("/api/v1/touchpoints", json=fields)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def make_keys(data_dir: Path, backend: str = "sqlite") -> tuple[str, str, str]:
    """An admin, a read and a mint key, made as `scorelet key create` would."""

    async def create() -> tuple[str, str, str]:
        store = await open_store(backend, data_dir)
        try:
            keys = [
                (await store.create_api_key(scope, f"test {scope}"))[1]
                for scope in ("admin", "read", "mint")
            ]
        finally:
            await store.close()
        return keys[0], keys[1], keys[2]

    return asyncio.run(create())


class Clock:
    """A clock a test can move: `run_server(..., clock=Clock())` stamps ratings with it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def scorelet_command(*args: str) -> list[str]:
    """`scorelet ARGS` as a real process, as an unprivileged user would run it.

    As root, file permissions don't apply; dropping the two capabilities that
    bypass them makes a read-only folder read-only for the test too.
    """
    command = [sys.executable, "-m", "scorelet", *args]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    return command


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any SCORELET_* setting of the machine running the tests."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCORELET_")}
    return {**environ, **extra}


def init_data(data: Path) -> None:
    """A data directory as `scorelet init --no-demos` leaves it (its output swallowed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", "--no-demos", "--data", str(data)]) == 0


def run_server(
    data_dir: Path,
    clock: Callable[[], float] = time.time,
    backend: str = "sqlite",
    prepare: Callable[[Starlette], None] = lambda app: None,
    **overrides: Any,
) -> Iterator[LiveServer]:
    """Serve a new app on `data_dir` over real HTTP in a thread; `prepare` may change the app
    first (as an embedder would)."""
    # The server's secret is in its data directory too, as `scorelet init` leaves it,
    # so `scorelet` commands on that directory sign what the server accepts.
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / SECRET_FILE).write_text(SECRET + "\n")
    sock = free_socket()
    port = sock.getsockname()[1]
    if backend == "postgres":  # the same secret in the database, for `scorelet` commands
        overrides.setdefault("database_url", database_for(data_dir))
        asyncio.run(database_secrets(overrides["database_url"], SECRET))
    settings = Settings(data_dir=data_dir, port=port, secrets=(SECRET,), **overrides)
    admin_key, read_key, mint_key = make_keys(data_dir, backend)
    app = create_app(settings, clock=clock)
    prepare(app)
    with serve_in_thread(app, sock) as url:
        yield LiveServer(url, settings, admin_key, read_key, mint_key, backend)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and getattr(metafunc.module, "ON_EVERY_BACKEND", False):
        metafunc.parametrize("backend", BACKENDS, scope="module")


@pytest.fixture(scope="module")
def backend() -> str:
    """Which storage `server` and `fresh_server` run on (modules may ask for each)."""
    return "sqlite"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("data"), backend=backend)


@pytest.fixture
def fresh_server(tmp_path: Path, backend: str) -> Iterator[LiveServer]:
    yield from run_server(tmp_path / "data", backend=backend)
