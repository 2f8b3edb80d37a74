"""Exports stream any size in constant memory: over HTTP and from the CLI."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import httpx
import pytest

from backends import BACKENDS, Given, database_args, database_env, load
from conftest import LiveServer, init_data
from scorelet.cli import main
from test_serve import serving

ON_EVERY_BACKEND = True
ROWS = 100_000
COMMENT = "A long, thoughtful comment about the checkout. " * 6  # ~280 bytes a row


def seed(data: Path, slug: str, rows: int, kind: str) -> list[str]:
    """A touchpoint with `rows` responses, loaded through the storage interface; returns
    the `scorelet` options that reach its database."""
    where = database_args(kind, data)
    with redirect_stdout(io.StringIO()):
        assert main(["init", "--no-demos", *where]) == 0
    assert main(["touchpoint", "add", slug, "--metric", "csat", *where]) == 0
    given = (Given(1.7e9 + i, 1 + i % 5, {"plan": "pro"}, COMMENT) for i in range(rows))
    assert load(data, slug, given, kind) == rows
    return where


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.parametrize("kind", BACKENDS)
def test_csv_export_of_100k_rows_stays_within_a_memory_bound(kind: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    where = seed(data, "big", ROWS, kind)
    key_out = io.StringIO()
    with redirect_stdout(key_out):
        assert main(["key", "create", "--scope", "read", *where]) == 0
    key = key_out.getvalue().strip()
    with serving(data, database_env(kind, data)) as (process, url):
        headers = {"authorization": f"Bearer {key}"}
        # Warm up the server's code paths so the peak reflects the export itself.
        httpx.get(f"{url}/api/v1/touchpoints/big/responses?limit=1000", headers=headers)
        before = peak_rss_kib(process.pid)
        rows = 0
        size = 0
        with httpx.stream(
            "GET",
            f"{url}/api/v1/touchpoints/big/responses?format=csv",
            headers=headers,
            timeout=120,
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                rows += 1
                size += len(line)
        growth_mib = (peak_rss_kib(process.pid) - before) / 1024
    assert rows == ROWS + 1  # header
    assert size > 25 * 1024 * 1024  # the export is far larger than the bound below
    print(f"exported {size / 2**20:.1f} MiB; server peak RSS grew {growth_mib:.1f} MiB")
    assert growth_mib < 16


@pytest.mark.parametrize("kind", BACKENDS)
def test_cli_export_writes_csv_and_ndjson(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    where = seed(data, "small", 25, kind)
    out = tmp_path / "out.csv"
    assert main(["export", "small", *where, "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 25
    assert rows[0]["created_at"] > rows[-1]["created_at"]
    assert "Wrote 25 responses" in capsys.readouterr().err
    assert main(["export", "small", "--format", "ndjson", "--since", "1700000010", *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 15
    assert all(json.loads(line)["context"] == {"plan": "pro"} for line in lines)


def test_cli_export_of_an_unknown_touchpoint_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    init_data(data)
    out = tmp_path / "never.csv"
    assert main(["export", "ghost", "--data", str(data), "--output", str(out)]) == 1
    assert "ghost" in capsys.readouterr().err
    assert not out.exists()


def test_csv_defuses_cells_a_spreadsheet_would_run_and_ndjson_keeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    init_data(data)
    assert main(["touchpoint", "add", "sheet", "--metric", "csat", "--data", str(data)]) == 0
    comments = ['=HYPERLINK("http://evil.example","x")', "+1 great", "-", "@SUM(A1)", "\tx", "fine"]
    given = [Given(1700000000 + n, 3, {}, c, c) for n, c in enumerate(comments)]
    load(data, "sheet", given)
    out = tmp_path / "out.csv"
    assert main(["export", "sheet", "--data", str(data), "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(), newline="")))
    defused = ["'" + c for c in comments[:-1]] + ["fine"]
    assert [row["comment"] for row in reversed(rows)] == defused
    assert [row["subject"] for row in reversed(rows)] == defused
    capsys.readouterr()
    assert main(["export", "sheet", "--format", "ndjson", "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["comment"] for line in reversed(lines)] == comments


def test_csv_gives_each_context_key_a_column_a_spreadsheet_can_filter_on(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tp = server.add_touchpoint()
    contexts = [{"agent": "alice", "team": "billing"}, {"agent": "bob"}, {}, {"score": "=1+1"}]
    with server.client() as client:
        for context in contexts:
            body = {"token": tp["embed_token"], "score": 4, "context": context}
            assert client.post("/api/v1/responses", json=body).status_code == 201
    with server.reader() as reader:
        http = reader.get(f"/api/v1/touchpoints/{tp['slug']}/responses?format=csv").text
    capsys.readouterr()
    where = database_args(server.backend, server.settings.data_dir)
    assert main(["export", tp["slug"], *where]) == 0
    cli = capsys.readouterr().out
    assert cli == http
    rows = list(csv.DictReader(io.StringIO(http, newline="")))
    assert list(rows[0]) == [
        *("id", "touchpoint", "score", "comment", "subject", "person", "created_at", "updated_at"),
        *("tags", "issues", "agent", "context.score", "team"),
    ]
    by_agent = [(r["agent"], r["team"], r["context.score"]) for r in reversed(rows)]
    assert by_agent == [("alice", "billing", ""), ("bob", "", ""), ("", "", ""), ("", "", "'=1+1")]
    assert all(r["score"] == "4" for r in rows)


@pytest.mark.parametrize(
    ("query", "field"),
    [("format=ndjson&cursor=", "cursor"), ("format=csv&cursor=nope", "cursor"),
     ("format=csv&limit=0", "limit")],
)  # fmt: skip
def test_an_export_refuses_a_paging_parameter_it_would_not_use_when_it_is_wrong(
    server: LiveServer, query: str, field: str
) -> None:
    """Exports hold every rating, so they page by nothing; a malformed cursor or limit is
    still an error, not silently dropped."""
    tp = server.add_touchpoint()
    with server.reader() as reader:
        answer = reader.get(f"/api/v1/touchpoints/{tp['slug']}/responses?{query}")
    assert (answer.status_code, answer.json()["field"]) == (400, field)
