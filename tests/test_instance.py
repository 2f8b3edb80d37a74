"""One server per data directory, and the CLI prints the address that server really serves."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import clean_env, init_data, scorelet_command
from scorelet.instance import running_url
from test_serve import free_port, serving

TAG = re.compile(r'<script src="(http://[^"]+)/s/e\.[^"]+\.js" async></script>')


def scorelet(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scorelet_command(*args),
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    init_data(tmp_path / "data")
    assert scorelet("touchpoint", "add", "q4", "--metric", "nps", "--data", str(tmp_path / "data"))
    return tmp_path / "data"


def test_tags_and_links_point_at_the_port_the_server_serves(data: Path) -> None:
    with serving(data) as (_, url):
        assert not url.endswith(":8000")
        added = scorelet("touchpoint", "add", "checkout", "--metric", "csat", "--data", str(data))
        embedded = scorelet("embed", "checkout", "--data", str(data))
        shown = scorelet("touchpoint", "show", "checkout", "--data", str(data))
        token = scorelet("token", "checkout", "--subject", "c1", "--data", str(data))
        for result in (added, embedded, shown):
            assert result.returncode == 0, result.stderr
            match = TAG.search(result.stdout)
            assert match, result.stdout
            assert match[1] == url
            assert result.stderr == ""  # nothing was guessed
        tag = TAG.search(embedded.stdout)
        assert tag
        loader = httpx.get(embedded.stdout.split('"')[1])
        assert loader.status_code == 200
        assert '"load"' in loader.text, "the printed tag renders on the running server"
        assert token.returncode == 0
        assert f"{url}/r/{token.stdout.strip()}" in token.stderr
        assert httpx.get(f"{url}/r/{token.stdout.strip()}").status_code == 200


def test_the_public_url_wins_over_the_running_server(data: Path) -> None:
    with serving(data):
        result = scorelet(
            "embed", "q4", "--data", str(data), SCORELET_PUBLIC_URL="https://r.example.com"
        )
    assert result.stdout.startswith('<script src="https://r.example.com/s/')
    assert result.stderr == ""


def test_without_a_running_server_the_cli_says_which_url_it_assumed(data: Path) -> None:
    result = scorelet("embed", "q4", "--data", str(data), SCORELET_PORT="8123")
    assert result.returncode == 0
    assert result.stdout.startswith('<script src="http://127.0.0.1:8123/s/')
    assert "no server is running on" in result.stderr
    assert "assumes http://127.0.0.1:8123" in result.stderr
    assert "SCORELET_PUBLIC_URL" in result.stderr


def test_a_second_server_on_the_same_data_directory_is_refused(data: Path) -> None:
    with serving(data) as (first, url):
        second = scorelet("serve", "--port", str(free_port()), "--data", str(data))
        assert first.poll() is None, "the first server keeps running"
    assert second.returncode == 1
    assert second.stderr.count("\n") == 1, second.stderr
    assert "already serving" in second.stderr
    assert url in second.stderr
    assert "Traceback" not in second.stderr


def test_a_killed_server_leaves_nothing_that_is_trusted_or_blocks_a_restart(data: Path) -> None:
    with serving(data) as (process, url):
        assert running_url(data) == url
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (data / "serve.lock").exists()
    assert running_url(data) is None  # nobody holds the lock: the file is stale
    result = scorelet("embed", "q4", "--data", str(data))
    assert "no server is running" in result.stderr
    with serving(data) as (_, again):
        assert running_url(data) == again


def test_a_port_in_use_is_one_line_naming_it_and_no_banner(data: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = scorelet("serve", "--port", str(port), "--data", str(data))
    assert result.returncode == 1
    assert result.stderr == (
        f"scorelet: error: port {port} on 127.0.0.1 is already in use (another Scorelet, or"
        " another program); stop it, or choose another port with --port N (or SCORELET_PORT)\n"
    )
    assert running_url(data) is None


def test_port_0_serves_on_a_free_port_and_the_banner_shows_it(data: Path) -> None:
    process = subprocess.Popen(
        scorelet_command("serve", "--port", "0", "--data", str(data)),
        env=clean_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        match = re.fullmatch(r"Scorelet \S+ is running at (http://127\.0\.0\.1:(\d+))\n", first)
        assert match, first
        assert match[2] != "0"
        assert httpx.get(match[1] + "/healthz").status_code == 200  # bound before it said so
        assert running_url(data) == match[1]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert process.returncode == 0
    assert running_url(data) is None


def test_what_the_cli_just_changed_works_on_the_running_server_at_once(data: Path) -> None:
    with serving(data) as (_, url):
        assert scorelet("touchpoint", "add", "fresh", "--metric", "csat", "--data", str(data))
        token = scorelet("embed", "fresh", "--token", "--data", str(data)).stdout.strip()
        rated = httpx.post(url + "/api/v1/responses", json={"token": token, "score": 5})
        assert rated.status_code == 201, rated.text
        scorelet("touchpoint", "update", "fresh", "--rotate-token", "--data", str(data))
        rotated = scorelet("embed", "fresh", "--token", "--data", str(data)).stdout.strip()
        again = httpx.post(url + "/api/v1/responses", json={"token": rotated, "score": 4})
        assert again.status_code == 201, again.text


def test_embed_help_says_where_the_default_address_comes_from() -> None:
    help_text = " ".join(scorelet("embed", "--help").stdout.split())
    assert "the serve address" not in help_text
    assert "$SCORELET_PUBLIC_URL, else the address of the server running on the data" in help_text
    assert "with a note on stderr" in help_text
