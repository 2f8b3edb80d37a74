"""The polling examples run against a real server and print only changes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import LiveServer

EXAMPLES = Path(__file__).parents[1] / "examples"


def lines_until(process: subprocess.Popen[str], count: int, seconds: float = 15) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while len(lines) < count and time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line.strip())
    return lines


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_poller_prints_the_score_once_per_change(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="csat")
    poller = start(
        str(EXAMPLES / "poll_scores.py"),
        tp["slug"],
        "--key",
        server.read_key,
        "--url",
        server.url,
        "--every",
        "0.2",
    )
    try:
        first = lines_until(poller, 1)
        with server.client() as client:
            client.post("/api/v1/responses", json={"token": tp["embed_token"], "score": 5})
        second = lines_until(poller, 1)
        time.sleep(1)  # several more polls, all 304: nothing printed
    finally:
        poller.terminate()
        rest, _ = poller.communicate(timeout=10)
    assert "no responses yet" in first[0]
    assert "CSAT 100.0 from 1" in second[0]
    assert rest.strip() == ""


def test_follower_prints_pushed_scores(server: LiveServer) -> None:
    tp = server.add_touchpoint(metric="nps")
    follower = start(
        str(EXAMPLES / "follow_scores.py"),
        "--key",
        server.read_key,
        "--url",
        server.url,
        "--touchpoints",
        tp["slug"],
    )
    try:
        first = lines_until(follower, 1)
        with server.client() as client:
            client.post("/api/v1/responses", json={"token": tp["embed_token"], "score": 9})
        second = lines_until(follower, 1)
    finally:
        follower.terminate()
        follower.communicate(timeout=10)
    assert f"{tp['slug']}: NPS - from 0" in first[0]
    assert f"{tp['slug']}: NPS 100.0 from 1" in second[0]
