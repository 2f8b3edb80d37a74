"""The examples run as the docs write them: against a real server, finding it as the CLI does."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import LiveServer, clean_env, init_data
from receivers import wait_for
from test_serve import free_port, serving

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


def not_modified(server: LiveServer) -> float:
    """How many score polls this server answered 304 Not Modified, from its /metrics."""
    with server.reader() as reader:
        text = reader.get("/metrics").text
    found = re.search(
        r'scorelet_http_requests_total\{method="GET",route="score",status="304"\} (\S+)', text
    )
    return float(found[1]) if found else 0.0


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
        polled = not_modified(server)
        wait_for(lambda: not_modified(server) >= polled + 3, what="three more polls")
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


def test_the_poller_finds_the_running_server_without_a_url(tmp_path: Path) -> None:
    data = tmp_path / "data"
    init_data(data)
    with serving(data) as (_, url):
        key = subprocess.run(
            [
                sys.executable,
                "-m",
                "scorelet",
                "key",
                "create",
                "--scope",
                "read",
                "--data",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        add = [sys.executable, "-m", "scorelet", "touchpoint", "add", "found", "--metric", "nps"]
        subprocess.run([*add, "--data", str(data)], capture_output=True, check=True)
        poller = start(str(EXAMPLES / "poll_scores.py"), "found", "--key", key, "--data", str(data))
        try:
            first = lines_until(poller, 1)
        finally:
            poller.terminate()
            poller.communicate(timeout=10)
    assert len(first) == 1
    assert first[0].endswith("  found: no responses yet from 0 (95%: None to None)")
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("example", ["poll_scores.py", "follow_scores.py"])
def test_without_a_server_the_examples_say_so_in_one_line(tmp_path: Path, example: str) -> None:
    args = ["checkout"] if example == "poll_scores.py" else []
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example), *args, "--key", "slk_x"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"no running Scorelet server found for {tmp_path / 'scorelet-data'}: start one with"
        " `scorelet serve`, or say where it is with --url http://HOST:PORT (or --data DIR)\n"
    )


def test_an_unreachable_url_is_one_line_not_a_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "poll_scores.py"),
            "x",
            "--key",
            "k",
            "--url",
            f"http://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("can't reach Scorelet at http://127.0.0.1:")
    assert result.stderr.count("\n") == 1


def readme_command(readme: Path, script: str) -> list[str]:
    """The README's command line that runs `script`, split as a shell would."""
    for line in readme.read_text().splitlines():
        if line.strip().endswith(script) and not line.startswith(("#", "`", "(")):
            return shlex.split(line)
    raise AssertionError(f"{readme} shows no command for {script}")


@pytest.mark.parametrize("readme", ["docs/conversations.md", "examples/support-chat/README.md"])
def test_the_support_chat_starts_with_the_command_its_readmes_give(readme: str) -> None:
    root = EXAMPLES.parent
    command = readme_command(root / readme, "examples/support-chat/app.py")
    process = subprocess.Popen(
        [*command, "--chat-port", str(free_port())],  # 8001 may be taken on a shared machine
        cwd=root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = lines_until(process, 2, seconds=30)
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=15)
    assert started[0].startswith("Scorelet:     http://127.0.0.1:"), (started, rest)
    assert started[1].startswith("Support chat: http://127.0.0.1:"), (started, rest)
    assert process.returncode == 0, rest


def test_the_support_chat_without_its_dependencies_says_how_to_run_it() -> None:
    result = subprocess.run(
        [sys.executable, "-S", str(EXAMPLES / "support-chat" / "app.py")],  # no site-packages
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "`.venv/bin/python examples/support-chat/app.py`" in result.stderr
