"""Crash safety: SIGKILL a busy `scorelet serve` ten times; nothing acknowledged is lost.

Several clients ingest as fast as they can while the process is killed at a
random moment; the next round restarts on the same data directory. After
every kill the database must pass `PRAGMA integrity_check`, hold every rating
that was answered 201 with the score it was given, and have rollups equal to
a recount from the raw rows.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
from pathlib import Path

import httpx

from test_serve import serving, setup_touchpoint

ROUNDS = 10
CLIENTS = 4


def ingest(url: str, token: str, seed: int, acked: dict[str, int], stop: threading.Event) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=5) as client:
        while not stop.is_set():
            score = rng.randint(1, 5)
            body: dict[str, object] = {"token": token, "score": score}
            if rng.random() < 0.2:
                body["comment"] = "crash test " * rng.randint(1, 20)
            try:
                response = client.post("/api/v1/responses", json=body)
            except httpx.TransportError:
                return  # the server is gone
            if response.status_code == 201:
                acked[response.json()["id"]] = score


def check(database: Path, acked: dict[str, int]) -> int:
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = dict(conn.execute("SELECT id, score FROM responses").fetchall())
        recount = conn.execute(
            "SELECT touchpoint_id, score, count(*) FROM responses GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        rollups = conn.execute(
            "SELECT touchpoint_id, score, sum(count) FROM rollups GROUP BY 1, 2"
            " HAVING sum(count) > 0 ORDER BY 1, 2"
        ).fetchall()
    missing = [id_ for id_, score in acked.items() if stored.get(id_) != score]
    assert not missing, f"{len(missing)} acknowledged ratings lost or changed"
    assert rollups == recount
    return len(stored)


def test_acknowledged_ratings_survive_ten_sigkills_under_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = setup_touchpoint(data)
    rng = random.Random(7)
    acked: dict[str, int] = {}
    acked_per_round = []
    for round_ in range(ROUNDS):
        stop = threading.Event()
        before = len(acked)
        with serving(data, {"SCORELET_RATE_LIMIT": "off"}) as (process, url):
            clients = [
                threading.Thread(
                    target=ingest, args=(url, token, round_ * CLIENTS + i, acked, stop)
                )
                for i in range(CLIENTS)
            ]
            for client in clients:
                client.start()
            while len(acked) == before:  # be sure the kill lands mid-ingest
                stop.wait(0.005)
            stop.wait(rng.uniform(0.05, 0.6))
            process.send_signal(signal.SIGKILL)
            process.wait()
            stop.set()
            for client in clients:
                client.join()
        acked_per_round.append(len(acked) - before)
        assert check(data / "scorelet.sqlite3", acked) >= len(acked)
    assert all(acked_per_round)
