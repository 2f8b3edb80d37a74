"""The data directory: only `serve` and `init` make one; a bad one is one line, not a traceback.

Every case runs the real `scorelet` command in a process of its own, as an
unprivileged user (see `scorelet_command`), from a folder of its own.
"""

from __future__ import annotations

import sqlite3
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import clean_env, scorelet_command
from scorelet.config import SettingsError
from scorelet.mint import mint_token
from test_serve import serving


def scorelet(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scorelet_command(*args),
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *mentions: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("scorelet: error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    for mention in mentions:
        assert mention in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["touchpoint", "list"],
        ["touchpoint", "add", "checkout", "--metric", "csat"],
        ["embed", "checkout"],
        ["key", "create", "--scope", "read"],
        ["token", "checkout", "--subject", "c1"],
        ["score", "checkout"],
        ["export", "checkout"],
    ],
)
def test_commands_other_than_serve_and_init_refuse_a_missing_data_directory(
    tmp_path: Path, argv: list[str]
) -> None:
    result = scorelet(tmp_path, *argv)
    assert_one_line(
        result, str(tmp_path / "scorelet-data"), "--data", "SCORELET_DATA", "scorelet init"
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == [], "nothing was created"


def test_the_message_names_where_the_path_came_from(tmp_path: Path) -> None:
    from_env = scorelet(tmp_path, "touchpoint", "list", SCORELET_DATA=str(tmp_path / "env"))
    assert_one_line(from_env, str(tmp_path / "env"), "(from SCORELET_DATA)")
    from_flag = scorelet(tmp_path, "touchpoint", "list", "--data", "typo")
    assert_one_line(from_flag, str(tmp_path / "typo"), "(from --data)")


def test_a_folder_without_a_database_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "scorelet-data").mkdir()
    result = scorelet(tmp_path, "touchpoint", "list")
    assert_one_line(result, "holds no Scorelet database", "scorelet init")
    assert list((tmp_path / "scorelet-data").iterdir()) == []


def test_init_creates_what_a_first_start_does_and_is_idempotent(tmp_path: Path) -> None:
    first = scorelet(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    data = tmp_path / "scorelet-data"
    assert "Created" in first.stdout
    assert "three demo touchpoints" in first.stdout
    secret = (data / "secret").read_text()
    assert stat.S_IMODE((data / "secret").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    listed = scorelet(tmp_path, "touchpoint", "list")
    assert listed.stdout.count("demo-") == 3
    again = scorelet(tmp_path, "init")
    assert again.returncode == 0
    assert "already a Scorelet data directory; nothing changed" in again.stdout
    assert (data / "secret").read_text() == secret


def test_init_for_a_scripted_set_up_then_serve_keeps_what_was_added(tmp_path: Path) -> None:
    data = tmp_path / "prepared"
    assert scorelet(tmp_path, "init", "--no-demos", "--data", str(data)).returncode == 0
    added = scorelet(
        tmp_path, "touchpoint", "add", "checkout", "--metric", "csat", "--data", str(data)
    )
    assert added.returncode == 0, added.stderr
    with serving(data) as (_, url):
        assert "/openapi.json" in httpx.get(url + "/").text  # no demo page: no demos added
    listed = scorelet(tmp_path, "touchpoint", "list", "--data", str(data))
    assert listed.stdout == "checkout (CSAT, stars 1-5)\n"


def test_mint_token_refuses_a_missing_data_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SettingsError, match=str(missing.resolve())):
        mint_token("support-chat", "conv_1", data_dir=missing)
    assert not missing.exists()


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], ["touchpoint", "list"]])
def test_a_file_where_the_data_folder_should_be_is_one_line(
    tmp_path: Path, argv: list[str]
) -> None:
    (tmp_path / "scorelet-data").write_text("not a folder")
    assert_one_line(scorelet(tmp_path, *argv), "is a file, not a folder", "--data")


def test_serve_says_when_it_can_not_create_the_data_folder(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    try:
        result = scorelet(tmp_path, "serve", "--port", "0", "--data", str(parent / "data"))
    finally:
        parent.chmod(0o755)
    assert_one_line(result, "can't create the data folder", "permission denied", "--data")


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], ["touchpoint", "list"]])
def test_a_read_only_data_folder_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    assert scorelet(tmp_path, "init").returncode == 0
    data = tmp_path / "scorelet-data"
    data.chmod(0o500)
    try:
        result = scorelet(tmp_path, *argv)
    finally:
        data.chmod(0o700)
    assert_one_line(result, f"can't write in the data folder {data}", "chmod u+w", "--data")


def test_a_read_only_database_stops_serve_at_start_not_at_the_first_rating(
    tmp_path: Path,
) -> None:
    assert scorelet(tmp_path, "init").returncode == 0
    database = tmp_path / "scorelet-data" / "scorelet.sqlite3"
    database.chmod(0o400)
    try:
        result = scorelet(tmp_path, "serve", "--port", "0")
    finally:
        database.chmod(0o600)
    assert_one_line(result, f"the database {database} can't be written", "readonly")
    assert "running at" not in result.stderr


def test_an_unreadable_secret_is_one_line(tmp_path: Path) -> None:
    assert scorelet(tmp_path, "init").returncode == 0
    secret = tmp_path / "scorelet-data" / "secret"
    secret.chmod(0o000)
    try:
        result = scorelet(tmp_path, "embed", "demo-stars")
    finally:
        secret.chmod(0o600)
    assert_one_line(result, f"can't read {secret}", "ermission denied")


def test_checks_leave_the_database_untouched(tmp_path: Path) -> None:
    assert scorelet(tmp_path, "init").returncode == 0
    database = tmp_path / "scorelet-data" / "scorelet.sqlite3"
    with sqlite3.connect(database) as conn:
        before = conn.execute("PRAGMA user_version").fetchone()
    assert scorelet(tmp_path, "touchpoint", "list").returncode == 0
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == before
    assert not [p for p in database.parent.iterdir() if p.name.startswith(".scorelet-check")]
