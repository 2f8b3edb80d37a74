"""Crash safety: SIGKILL a busy `scorelet serve` ten times; nothing acknowledged is lost.

Several clients ingest as fast as they can while the process is killed at a
random moment; the next round restarts on the same data directory. After
every kill the database must hold every rating that was answered 201 with
the score it was given, and its rollups plus the changes not folded yet must
equal a recount from the raw rows; the next start folds them once.
"""

from __future__ import annotations

import random
import signal
import threading
from pathlib import Path

import httpx
import pytest

from backends import BACKENDS, Contents, database_env, read_contents
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


def check(data: Path, acked: dict[str, int], kind: str = "sqlite") -> Contents:
    """Every acknowledged rating there with its score; rollups (plus what the kill left
    unfolded) equal to a recount from the raw rows."""
    contents = read_contents(data, kind)
    missing = [id_ for id_, score in acked.items() if contents.scores.get(id_) != score]
    assert not missing, f"{len(missing)} acknowledged ratings lost or changed"
    assert contents.check.equal
    return contents


@pytest.mark.parametrize("kind", BACKENDS)
def test_acknowledged_ratings_survive_ten_sigkills_under_load(kind: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = setup_touchpoint(data, kind=kind)
    rng = random.Random(7)
    acked: dict[str, int] = {}
    acked_per_round = []
    unfolded_at_kill = []
    for round_ in range(ROUNDS):
        stop = threading.Event()
        before = len(acked)
        env = {"SCORELET_RATE_LIMIT": "off", **database_env(kind, data)}
        with serving(data, env) as (process, url):
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
        contents = check(data, acked, kind)
        assert len(contents.scores) >= len(acked)
        unfolded_at_kill.append(contents.unfolded)
    assert all(acked_per_round)
    # Folds run once a second: most kills land with ratings not folded yet, and the
    # next start must fold them exactly once.
    assert sum(1 for unfolded in unfolded_at_kill if unfolded) >= ROUNDS // 2
