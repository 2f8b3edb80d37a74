"""`scorelet backup`: a consistent copy while a real server takes writes, that serves."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from backends import read_contents
from scorelet.cli import main
from test_serve import serving, setup_touchpoint


def recount(database: Path) -> tuple[int, bool]:
    """(responses, rollups equal a recount from the raw rows) of a database file.

    A backup is an SQLite file, so its integrity is SQLite's to check; what it
    holds is read through the storage interface.
    """
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    contents = read_contents(database.parent)
    return len(contents.scores), contents.check.equal


def test_a_backup_under_write_load_is_consistent_and_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, copy = tmp_path / "data", tmp_path / "copy"
    token = setup_touchpoint(data)
    stop = threading.Event()
    acknowledged: list[int] = []

    def write(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not stop.is_set():
                body = {"token": token, "score": len(acknowledged) % 5 + 1}
                if client.post("/api/v1/responses", json=body).status_code == 201:
                    acknowledged.append(1)

    with serving(data, {"SCORELET_RATE_LIMIT": "off"}) as (_, url):
        writers = [threading.Thread(target=write, args=(url,)) for _ in range(3)]
        for writer in writers:
            writer.start()
        try:
            while len(acknowledged) < 50:  # under way before the backup starts
                stop.wait(0.01)
            before = len(acknowledged)
            capsys.readouterr()
            assert main(["backup", str(copy), "--data", str(data)]) == 0
            during = len(acknowledged)
        finally:
            stop.set()
            for writer in writers:
                writer.join()
    out = capsys.readouterr().out
    copied, consistent = recount(copy / "scorelet.sqlite3")
    assert consistent
    assert copied >= before  # every rating acknowledged before the backup is in it
    assert f"Backed up {copied} responses" in out
    assert copied <= during <= recount(data / "scorelet.sqlite3")[0]
    assert (copy / "secret").read_text() == (data / "secret").read_text()
    with serving(copy) as (_, url):  # the old token still works: the secret came along
        response = httpx.post(url + "/api/v1/responses", json={"token": token, "score": 5})
        assert response.status_code == 201
    assert recount(copy / "scorelet.sqlite3") == (copied + 1, True)


def test_a_backup_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, copy = tmp_path / "data", tmp_path / "copy"
    setup_touchpoint(data)
    assert main(["backup", str(copy), "--data", str(data)]) == 0
    capsys.readouterr()
    assert main(["backup", str(copy), "--data", str(data)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["backup", str(copy), "--data", str(data), "--force"]) == 0
    assert recount(copy / "scorelet.sqlite3") == (0, True)
    assert not (copy / "scorelet.sqlite3.partial").exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no database", "no Scorelet data directory at"),
        ("target is a file", "is not a directory"),
        ("target is the data directory", "somewhere other"),
    ],
)
def test_backup_errors_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    data, target = tmp_path / "data", tmp_path / "copy"
    if setup != "no database":
        setup_touchpoint(data)
    if setup == "target is a file":
        target.write_text("not a directory")
    if setup == "target is the data directory":
        target = data
    capsys.readouterr()
    assert main(["backup", str(target), "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
