"""Several `scorelet serve` processes on one PostgreSQL database, and PostgreSQL failing.

Real processes on a real server: two Scorelets that must agree, see each
other's changes within a second, survive being killed one at a time, and a
database that stops, comes back, or drops connections mid-batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from backends import Contents, database_args, database_env, open_store, read_contents
from conftest import TLS, clean_env, scorelet_command
from postgres import Cluster, database_for, new_database
from scorelet.cli import main
from scorelet.store import NewResponse
from scorelet.store.postgres import fold
from scorelet.store.postgres.backend import PostgresBackend
from scorelet.touchpoints import new_touchpoint_fields
from test_serve import serving, setup_touchpoint

VISIBLE_WITHIN = 1.0  # seconds: what another process's change may take to show
# One client for the checks (a client per call would load the CA bundle each time).
http = httpx.Client(timeout=5, verify=TLS)


def wait_for(condition: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until `condition()` holds; fails if it doesn't within `within`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < within, f"{what} not within {within} s"
        time.sleep(0.01)
    return time.monotonic() - start


def cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue().strip()


@dataclass
class Pair:
    """Two Scorelet processes on one database, each with a data directory of its own."""

    data: Path
    urls: list[str]
    processes: list[subprocess.Popen[str]]
    admin: str
    reader: str
    where: list[str]


@contextlib.contextmanager
def two_processes(tmp_path: Path, url: str | None = None) -> Iterator[Pair]:
    data = tmp_path / "cli"
    url = database_for(data, url)
    setup_touchpoint(data, kind="postgres")
    where = database_args("postgres", data)
    admin = cli("key", "create", "--scope", "admin", *where)
    reader = cli("key", "create", "--scope", "read", *where)
    env = {"SCORELET_RATE_LIMIT": "off", "SCORELET_DATABASE_URL": url}
    with (
        serving(tmp_path / "a", env) as (first, first_url),
        serving(tmp_path / "b", env) as (second, second_url),
    ):
        yield Pair(data, [first_url, second_url], [first, second], admin, reader, where)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def score(url: str, key: str, slug: str = "checkout") -> dict[str, Any]:
    response = http.get(f"{url}/api/v1/touchpoints/{slug}/score", headers=bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def embed_token(pair: Pair, slug: str = "checkout") -> str:
    return cli("embed", slug, "--token", *pair.where)


# -- two processes, one database ----------------------------------------------------------


def test_two_processes_agree_on_every_score(tmp_path: Path) -> None:
    with two_processes(tmp_path) as pair:
        token = embed_token(pair)
        scores = [5, 4, 1, 5, 3, 2, 5, 5, 4, 1]
        for n, value in enumerate(scores):
            url = pair.urls[n % 2]
            body = {"token": token, "score": value}
            assert http.post(f"{url}/api/v1/responses", json=body).status_code == 201
        expected = round(100 * sum(1 for s in scores if s >= 4) / len(scores), 1)
        for url in pair.urls:
            wait_for(
                lambda url=url: score(url, pair.reader)["responses"] == len(scores),
                VISIBLE_WITHIN,
                "the other process's ratings",
            )
        first, second = (score(url, pair.reader) for url in pair.urls)
        assert first == second
        assert first["score"] == expected
        assert first["responses"] == len(scores)


def test_a_touchpoint_added_through_one_is_rateable_through_the_other(tmp_path: Path) -> None:
    with two_processes(tmp_path) as pair:
        first, second = pair.urls
        added = http.post(
            f"{first}/api/v1/touchpoints",
            json={"slug": "signup", "metric": "nps"},
            headers=bearer(pair.admin),
        )
        assert added.status_code == 201
        token = added.json()["embed_token"]

        def rateable() -> bool:
            body = {"token": token, "score": 9}
            return http.post(f"{second}/api/v1/responses", json=body).status_code == 201

        wait_for(rateable, VISIBLE_WITHIN, "the new touchpoint on the other process")
        wait_for(
            lambda: score(first, pair.reader, "signup")["responses"] == 1,
            VISIBLE_WITHIN,
            "the rating on the first process",
        )


def test_revocations_rotations_streams_and_metrics_reach_the_other_process(
    tmp_path: Path,
) -> None:
    with two_processes(tmp_path) as pair:
        first, second = pair.urls
        token = embed_token(pair)
        etag = http.get(
            f"{second}/api/v1/touchpoints/checkout/score", headers=bearer(pair.reader)
        ).headers["etag"]
        events: list[str] = []
        opened = threading.Event()

        def listen() -> None:
            with httpx.stream(
                "GET",
                f"{second}/api/v1/touchpoints/checkout/stream",
                headers=bearer(pair.reader),
                timeout=10,
            ) as stream:
                opened.set()
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        events.append(line)
                        if '"responses":1' in line.replace(" ", ""):
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert opened.wait(5)
        posted = http.post(f"{first}/api/v1/responses", json={"token": token, "score": 5})
        assert posted.status_code == 201

        def changed() -> bool:
            response = http.get(
                f"{second}/api/v1/touchpoints/checkout/score",
                headers={**bearer(pair.reader), "if-none-match": etag},
            )
            return response.status_code == 200 and response.json()["responses"] == 1

        wait_for(changed, VISIBLE_WITHIN, "the new ETag")
        wait_for(lambda: not listener.is_alive(), VISIBLE_WITHIN, "the stream's event")
        metrics = http.get(f"{second}/metrics", headers=bearer(pair.reader)).text
        assert 'scorelet_responses{touchpoint="checkout"} 1.0' in metrics

        # A key revoked through the CLI stops working on both processes.
        doomed = cli("key", "create", "--scope", "read", "--name", "doomed", *pair.where)
        listed = http.get(f"{second}/api/v1/touchpoints", headers=bearer(doomed))
        assert listed.status_code == 200
        keys = json.loads(cli("key", "list", "--json", *pair.where))
        revoke_id = next(key["id"] for key in keys if key["name"] == "doomed")
        cli("key", "revoke", revoke_id, *pair.where)
        for url in pair.urls:
            wait_for(
                lambda url=url: (
                    http.get(f"{url}/api/v1/touchpoints", headers=bearer(doomed)).status_code == 401
                ),
                VISIBLE_WITHIN,
                "the revocation",
            )

        # An embed token rotated through one process is refused by the other.
        rotated = http.patch(
            f"{first}/api/v1/touchpoints/checkout",
            json={"rotate_token": True},
            headers=bearer(pair.admin),
        )
        assert rotated.status_code == 200, rotated.text
        wait_for(
            lambda: (
                http.post(
                    f"{second}/api/v1/responses", json={"token": token, "score": 4}
                ).status_code
                == 403
            ),
            VISIBLE_WITHIN,
            "the rotation",
        )


# -- faults ---------------------------------------------------------------------------------


@dataclass
class Load:
    """Clients posting ratings as fast as they can to some processes."""

    token: str
    urls: list[str]
    acked: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    problems: list[httpx.Response] = field(default_factory=list)
    slowest: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                url = rng.choice(self.urls)
                value = rng.randint(1, 5)
                started = time.monotonic()
                try:
                    response = client.post(
                        f"{url}/api/v1/responses", json={"token": self.token, "score": value}
                    )
                except httpx.TransportError:
                    time.sleep(0.01)  # that process is down: a browser would try again
                    continue
                finally:
                    with self.lock:
                        self.attempts += 1
                        self.slowest = max(self.slowest, time.monotonic() - started)
                with self.lock:
                    self.statuses[response.status_code] = (
                        self.statuses.get(response.status_code, 0) + 1
                    )
                    if response.status_code == 201:
                        self.acked[response.json()["id"]] = value
                    elif len(self.problems) < 50:
                        self.problems.append(response)

    @contextlib.contextmanager
    def running(self, clients: int = 4) -> Iterator[Load]:
        threads = [threading.Thread(target=self.run, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()

    def count(self, status: int) -> int:
        with self.lock:
            return self.statuses.get(status, 0)


def check(data: Path, acked: dict[str, int], attempts: int) -> Contents:
    """Every acknowledged rating with its score, none counted twice, rollups exact."""
    contents = read_contents(data, "postgres")
    missing = [id_ for id_, value in acked.items() if contents.scores.get(id_) != value]
    assert not missing, f"{len(missing)} acknowledged ratings lost or changed"
    assert len(contents.scores) <= attempts  # nothing stored twice
    assert contents.check.equal
    return contents


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server this test may stop and start."""
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


def test_a_stopped_database_gets_503s_then_everything_resumes(
    tmp_path: Path, own_cluster: Cluster
) -> None:
    data = tmp_path / "data"
    database_for(data, new_database(own_cluster.admin_url))
    token = setup_touchpoint(data, kind="postgres")
    reader = cli("key", "create", "--scope", "read", *database_args("postgres", data))
    env = {"SCORELET_RATE_LIMIT": "off", **database_env("postgres", data)}
    with serving(data, env) as (_, url), Load(token, [url]).running() as load:
        wait_for(lambda: load.count(201) > 50, 10, "ratings before the stop")
        own_cluster.stop()
        down_before = load.count(201)
        wait_for(lambda: load.count(503) > 0, 15, "a 503 while the database is down")
        problem = next(r for r in load.problems if r.status_code == 503)
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["code"] == "storage_unavailable"
        assert 1 <= int(problem.headers["retry-after"]) <= 60
        wait_for(lambda: http.get(f"{url}/healthz").status_code == 503, 10, "/healthz failing")
        assert http.get(f"{url}/healthz").json()["status"] == "failing"
        # The all-time score is kept in memory: it still answers, with every rating
        # acknowledged so far.
        held = score(url, reader)
        assert held["responses"] >= down_before
        down = load.count(201)
        own_cluster.start()
        wait_for(lambda: load.count(201) > down + 50, 30, "ratings after the restart")
        wait_for(lambda: http.get(f"{url}/healthz").status_code == 200, 10, "/healthz ok")
    assert set(load.statuses) <= {201, 503}
    # No request waited longer than the pool's connect timeout twice over (its batch's
    # and the one before it), however long the database was away.
    assert load.slowest < 15
    check(data, load.acked, load.attempts)


def test_one_of_two_processes_killed_ten_times_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(11)
    data = tmp_path / "cli"
    database_for(data)
    token = setup_touchpoint(data, kind="postgres")
    env = {"SCORELET_RATE_LIMIT": "off", **database_env("postgres", data)}
    acked: dict[str, int] = {}
    attempts = 0
    with serving(tmp_path / "steady", env) as (_, steady):
        for round_ in range(10):
            with serving(tmp_path / "victim", env) as (victim, victims_url):
                load = Load(token, [steady, victims_url])
                with load.running():
                    wait_for(lambda it=load: it.count(201) > 20, 10, "ratings before the kill")
                    time.sleep(rng.uniform(0.0, 0.4))  # a random moment, not a condition
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    at_kill = load.count(201)
                    wait_for(
                        lambda it=load, n=at_kill: it.count(201) > n + 20,
                        10,
                        "the survivor answering",
                    )
                acked |= load.acked
                attempts += load.attempts
                assert set(load.statuses) == {201}, f"round {round_}: {load.statuses}"
    check(data, acked, attempts)


def test_connections_dropped_mid_batch_lose_and_double_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = database_for(data)
    token = setup_touchpoint(data, kind="postgres")
    env = {"SCORELET_RATE_LIMIT": "off", **database_env("postgres", data)}
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    dropped = 0
    with serving(data, env) as (_, served), Load(token, [served]).running(8) as load:
        with psycopg.connect(admin, autocommit=True) as conn:
            while dropped < 40:
                before = load.count(201)
                wait_for(lambda n=before: load.count(201) > n, 10, "ratings between drops")
                cursor = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                row = cursor.fetchone()
                dropped += row[0] if row else 0
        wait_for(lambda: load.count(201) > before + 20, 15, "ratings after the last drop")
    assert set(load.statuses) <= {201, 503}  # refused for now, or taken: never a 500
    check(data, load.acked, load.attempts)


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    url = new_database()
    commands = [
        subprocess.Popen(
            scorelet_command("init", "--data", str(tmp_path / name), "--database", url),
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in "abcd"
    ]
    outputs = [command.communicate(timeout=60)[0] for command in commands]
    assert [command.returncode for command in commands] == [0] * 4, outputs
    assert sum("Created" in output for output in outputs) == 1  # one made it, three found it
    data = tmp_path / "a"
    database_for(data, url)
    listed = json.loads(cli("touchpoint", "list", "--json", *database_args("postgres", data)))
    assert sorted(tp["slug"] for tp in listed) == ["demo-nps", "demo-smileys", "demo-stars"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://db.example/scorelet", "--database must be a PostgreSQL URL"),
        ("postgresql://nobody:secret@127.0.0.1:1/scorelet", "Connection refused"),
    ],
)
def test_a_database_url_that_cannot_work_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    assert main(["touchpoint", "list", "--data", str(tmp_path), "--database", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scorelet: error")
    assert says in err
    assert "secret" not in err  # the password is never printed
    assert list(tmp_path.iterdir()) == []


async def test_closing_as_a_hint_arrives_does_not_hang(tmp_path: Path) -> None:
    """A change from another process noted just as the store closes: the resync loop must
    still end (asyncio.wait_for on 3.11 swallowed that cancel and close waited forever)."""
    backend = await PostgresBackend.open(database_for(tmp_path))
    backend.listen(lambda change: None)  # starts the listener and the resync loop
    await asyncio.sleep(0)  # let them start waiting
    backend._stale.set()  # what the listener does on another process's NOTIFY
    closing = asyncio.create_task(backend.close())
    done, _ = await asyncio.wait({closing}, timeout=30)  # a hang, not a speed: it takes ms
    assert closing in done, "close() is still waiting for the resync loop"


class ReplacedMidFold:
    """The fold's connection, with a rating replaced (and committed, on another connection)
    right after the fold has taken its top: the moment a statement-level snapshot lost it."""

    def __init__(self, conn: Any, replace: Callable[[], Awaitable[None]]) -> None:
        self.conn, self.replace, self.replaced = conn, replace, False

    async def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        result = await self.conn.execute(sql, *args, **kwargs)
        if "pg_snapshot_xmin" in sql and not self.replaced:
            self.replaced = True
            await self.replace()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


async def test_a_rating_replaced_while_a_fold_runs_is_counted_once(tmp_path: Path) -> None:
    store = await open_store("postgres", tmp_path)
    try:
        fields = new_touchpoint_fields({"slug": "checkout", "metric": "csat"})
        touchpoint = await store.create_touchpoint(fields)

        def rating(score: int) -> NewResponse:
            return NewResponse(touchpoint.id, score, None, "conv-1", {"agent": "alice"})

        await store.record_response(rating(1))
        backend = store.backend
        assert isinstance(backend, PostgresBackend)

        async def replace() -> None:
            await store.record_response(rating(4))

        async with backend._pool.connection() as conn, conn.transaction():
            interleaved = ReplacedMidFold(conn, replace)
            assert await fold.fold(interleaved) is not None
        assert interleaved.replaced
        await store.fold()
        check = await store.recount()
        assert check.stored == check.recounted
        counts, _ = await store.counts(touchpoint.id, since=0.0)
        assert counts == {4: 1}
        groups = await store.breakdown(touchpoint.id, "agent")
        assert groups == {"alice": {4: 1}}
    finally:
        await store.close()
