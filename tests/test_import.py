"""`scorelet import`: historical ratings from Scorelet's exports and Delighted, on every backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from backends import Given, database_args, load, open_store
from conftest import LiveServer
from receivers import wait_for
from scorelet.cli import main
from scorelet.store import Response, ResponseQuery

ON_EVERY_BACKEND = True
DAY = 86400.0
START = 1_780_000_000.0  # 2026-05-28


def scorelet(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def installation(
    capsys: pytest.CaptureFixture[str], backend: str, directory: Path, metric: str = "csat"
) -> list[str]:
    """A new installation with a touchpoint `support`; the options that name it."""
    where = database_args(backend, directory)
    assert scorelet(capsys, "init", "--no-demos", *where)[0] == 0
    code, _, err = scorelet(capsys, "touchpoint", "add", "support", "--metric", metric, *where)
    assert code == 0, err
    return where


def stored(backend: str, directory: Path) -> list[Response]:
    async def read() -> list[Response]:
        store = await open_store(backend, directory)
        try:
            touchpoint = store.touchpoint("support")
            assert touchpoint is not None
            return [
                r async for page in store.iter_responses(ResponseQuery(touchpoint.id)) for r in page
            ]
        finally:
            await store.close()

    return asyncio.run(read())


def figures(backend: str, directory: Path) -> dict[str, Any]:
    """Scores, a daily series and a breakdown, through the storage interface."""

    async def read() -> dict[str, Any]:
        store = await open_store(backend, directory)
        try:
            touchpoint = store.touchpoint("support")
            assert touchpoint is not None
            buckets = [(START + d * DAY, START + (d + 1) * DAY) for d in range(-1, 12)]
            series = await store.series(touchpoint.id, buckets, {})
            return {
                "all": (await store.counts(touchpoint.id))[0],
                "window": (await store.counts(touchpoint.id, START + DAY, START + 5 * DAY))[0],
                "series": [dict(counts) for counts, _ in series],
                "by_team": {
                    team: dict(counts)
                    for team, counts in (
                        await store.breakdown(touchpoint.id, "team", None, None, {})
                    ).items()
                },
                "alice": (await store.counts(touchpoint.id, None, None, {"agent": "alice"}))[0],
            }
        finally:
            await store.close()

    return asyncio.run(read())


def tag(backend: str, directory: Path, response_id: str, name: str) -> None:
    async def run() -> None:
        store = await open_store(backend, directory)
        try:
            await store.add_tag(response_id, name)
        finally:
            await store.close()

    asyncio.run(run())


AWKWARD = [
    '=HYPERLINK("http://evil.example","x")',
    "'quoted' already",
    "''=both",
    'two\nlines, "quoted"',
    "naïve café ☕",
    None,
]


def seeded(backend: str, directory: Path) -> list[Given]:
    given = [
        Given(
            START + n * 7919.0,
            1 + n % 5,
            {"agent": ("alice", "bob", "chen")[n % 3], "team": ("billing", "=ops")[n % 2]}
            if n % 4
            else {},
            AWKWARD[n % len(AWKWARD)],
            f"ticket-{n}" if n % 3 == 0 else None,
        )
        for n in range(120)
    ]
    assert load(directory, "support", given, backend) == 120
    return given


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_an_export_imported_elsewhere_gives_identical_ratings_scores_series_and_breakdowns(
    fmt: str, backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = installation(capsys, backend, tmp_path / "source")
    seeded(backend, tmp_path / "source")
    first = stored(backend, tmp_path / "source")
    tag(backend, tmp_path / "source", first[0].id, "Billing")
    tag(backend, tmp_path / "source", first[0].id, "Bug report")
    tag(backend, tmp_path / "source", first[5].id, "Billing")
    exported = tmp_path / f"support.{fmt}"
    code, _, err = scorelet(
        capsys, "export", "support", "--format", fmt, "-o", str(exported), *source
    )
    assert code == 0, err

    target = installation(capsys, backend, tmp_path / "target")
    code, out, err = scorelet(
        capsys, "import", str(exported), "--touchpoint", "support", "--format", fmt, *target
    )
    assert code == 0, err
    assert "Imported 120 ratings into support (0 were there already); tagged 2." in out

    def shape(r: Response) -> tuple[Any, ...]:
        tags = sorted(t.name for t in r.tags)
        return (
            r.id,
            r.score,
            r.comment,
            r.subject,
            dict(r.context),
            r.created_at,
            r.updated_at,
            tags,
        )

    want = [shape(r) for r in stored(backend, tmp_path / "source")]
    assert [shape(r) for r in stored(backend, tmp_path / "target")] == want
    assert figures(backend, tmp_path / "target") == figures(backend, tmp_path / "source")
    scored = [
        scorelet(capsys, "score", "support", "--json", *where)[1] for where in (source, target)
    ]
    assert json.loads(scored[0])["responses"] == 120
    assert scored[0] == scored[1]
    again = tmp_path / f"again.{fmt}"
    assert scorelet(capsys, "export", "support", "--format", fmt, "-o", str(again), *target)[0] == 0
    assert again.read_bytes() == exported.read_bytes()

    # Run again (as after an interruption): nothing is stored twice, no tag added twice.
    code, out, _ = scorelet(
        capsys, "import", str(exported), "--touchpoint", "support", "--format", fmt, *target
    )
    assert code == 0
    assert "Imported 0 ratings into support (120 were there already)." in out
    assert [shape(r) for r in stored(backend, tmp_path / "target")] == want


GOOD = "2026-05-01T10:00:00Z"


def test_bad_rows_are_reported_by_line_and_field_and_nothing_is_imported(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = installation(capsys, backend, tmp_path / "data")
    rows = [
        "score,created_at,comment,agent",
        f"5,{GOOD},fine,alice",
        f'4,{GOOD},"spans',  # the quoted comment runs over three lines
        "three",
        'lines",bob',
        f"9,{GOOD},off the scale,alice",
        "3,yesterday,,alice",
        f"four,{GOOD},,alice",
        f"2,{GOOD},,bad\x01agent",
        "",
        f"1,{GOOD},,",
    ]
    path = tmp_path / "old.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = scorelet(capsys, "import", str(path), "--touchpoint", "support", *where)
    assert code == 1
    assert f"{path}: line 6: score: score 9 is off support's stars scale (1-5)" in err
    assert "line 7: created_at: 'yesterday' is neither ISO 8601" in err
    assert "line 8: score: score must be a whole number, not 'four'" in err
    assert "line 9: context.agent: context.agent contains a control character (U+0001)" in err
    assert "4 of 7 rows can't be imported, so nothing was" in err
    assert stored(backend, tmp_path / "data") == []

    code, out, err = scorelet(
        capsys, "import", str(path), "--touchpoint", "support", "--skip-bad", *where
    )
    assert code == 0, err
    assert "line 6: score" in err
    assert "Imported 3 ratings into support (0 were there already, skipped 4 bad rows)." in out
    ratings = stored(backend, tmp_path / "data")
    assert sorted(r.score for r in ratings) == [1, 4, 5]
    assert {r.score: r.comment for r in ratings}[4] == "spans\nthree\nlines"
    assert {r.score: dict(r.context) for r in ratings} == {
        5: {"agent": "alice"},
        4: {"agent": "bob"},
        1: {},
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("comment,agent\nfine,alice\n", "line 1: header: a CSV needs `score` and `created_at`"),
        (f"score,created_at\n5,{GOOD},extra\n", "line 2: row: 3 cells under 2 columns"),
        (b"score,created_at\n5,\xff\n", "is not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_a_ratings_csv_is_refused_whole(
    content: str | bytes,
    message: str,
    backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    where = installation(capsys, backend, tmp_path / "data")
    path = tmp_path / "old.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = scorelet(capsys, "import", str(path), "--touchpoint", "support", *where)
    assert code == 1
    assert message in err
    assert stored(backend, tmp_path / "data") == []


def test_unknown_touchpoints_and_missing_files_are_refused(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = installation(capsys, backend, tmp_path / "data")
    path = tmp_path / "old.csv"
    path.write_text(f"score,created_at\n5,{GOOD}\n")
    code, _, err = scorelet(capsys, "import", str(path), "--touchpoint", "ghost", *where)
    assert (code, "no touchpoint is named 'ghost' (known: support)" in err) == (1, True)
    code, _, err = scorelet(
        capsys, "import", str(tmp_path / "nope.csv"), "--touchpoint", "support", *where
    )
    assert (code, "no such file" in err) == (1, True)
    assert stored(backend, tmp_path / "data") == []


DELIGHTED = [
    {
        "id": "1",
        "person": "10",
        "survey_type": "nps",
        "score": 0,
        "comment": None,
        "permalink": "https://app.delighted.com/r/x",
        "created_at": 1713418460,
        "updated_at": None,
        "person_properties": {"Purchase Experience": "Retail Store", "country": "USA", "seats": 12},
        "notes": [],
        "tags": [],
        "additional_answers": [],
    },
    {
        "id": "2",
        "person": "11",
        "score": 10,
        "comment": "Love the new checkout",
        "created_at": 1713504860,
        "updated_at": 1713505000,
        "person_properties": {},
        "tags": ["Checkout", "Praise"],
    },
    {"id": "3", "person": "10", "score": 7, "comment": "", "created_at": 1716000000},
]


@pytest.mark.parametrize("layout", ["array", "lines"])
def test_delighted_responses_keep_their_people_times_properties_and_tags(
    layout: str, backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = installation(capsys, backend, tmp_path / "data", metric="nps")
    path = tmp_path / "delighted.json"
    if layout == "array":
        path.write_text(json.dumps(DELIGHTED, indent=2))
    else:
        path.write_text("".join(json.dumps(item) + "\n" for item in DELIGHTED))
    argv = ["import", str(path), "--touchpoint", "support", "--format", "delighted", *where]
    code, out, err = scorelet(capsys, *argv)
    assert code == 0, err
    assert "Imported 3 ratings into support (0 were there already); tagged 1." in out
    ratings = {r.score: r for r in stored(backend, tmp_path / "data")}
    assert sorted(ratings) == [0, 7, 10]
    assert ratings[0].person == "10"
    assert ratings[7].person == "10"
    assert ratings[0].subject is None  # one person may answer many surveys over time
    assert dict(ratings[0].context) == {
        "Purchase_Experience": "Retail Store",
        "country": "USA",
        "seats": "12",
    }
    assert (ratings[10].created_at, ratings[10].updated_at) == (1713504860.0, 1713505000.0)
    assert ratings[10].comment == "Love the new checkout"
    assert ratings[7].comment is None
    assert sorted(t.name for t in ratings[10].tags) == ["Checkout", "Praise"]
    code, out, _ = scorelet(capsys, *argv)
    assert "Imported 0 ratings into support (3 were there already)." in out
    assert len(stored(backend, tmp_path / "data")) == 3


def test_delighted_rows_off_the_touchpoints_scale_name_their_line(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = installation(capsys, backend, tmp_path / "data")  # stars: 1-5
    path = tmp_path / "delighted.json"
    path.write_text("".join(json.dumps(item) + "\n" for item in DELIGHTED))
    code, _, err = scorelet(
        capsys, "import", str(path), "--touchpoint", "support", "--format", "delighted", *where
    )
    assert code == 1
    assert "line 1: score: score 0 is off support's stars scale (1-5)" in err
    assert "line 2: score: score 10 is off" in err
    assert stored(backend, tmp_path / "data") == []


def test_rows_match_by_an_id_column_or_by_their_content_so_a_rerun_stores_nothing(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = installation(capsys, backend, tmp_path / "data")
    with_ids = tmp_path / "with-ids.csv"
    with_ids.write_text(f"ticket,score,created_at,agent\nT-1,5,{GOOD},alice\nT-2,5,{GOOD},alice\n")
    without = tmp_path / "plain.csv"
    without.write_text(f"score,created_at,agent\n3,{GOOD},bob\n3,2026-05-02,bob\n")
    for _ in range(2):
        code, _, err = scorelet(
            capsys,
            "import",
            str(with_ids),
            "--touchpoint",
            "support",
            "--id-column",
            "ticket",
            *where,
        )
        assert code == 0, err
        assert scorelet(capsys, "import", str(without), "--touchpoint", "support", *where)[0] == 0
    ratings = stored(backend, tmp_path / "data")
    assert sorted(r.score for r in ratings) == [3, 3, 5, 5]
    assert all("ticket" not in r.context for r in ratings)
    code, _, err = scorelet(
        capsys, "import", str(without), "--touchpoint", "support", "--id-column", "ticket", *where
    )
    assert code == 1
    assert "line 2: ticket: ticket (the id column) is empty" in err


def test_a_running_server_counts_imported_ratings(
    fresh_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = fresh_server.add_touchpoint()["slug"]
    path = tmp_path / "old.csv"
    path.write_text("score,created_at\n" + "".join(f"{1 + n % 5},{START + n}\n" for n in range(50)))
    where = database_args(fresh_server.backend, fresh_server.settings.data_dir)
    code, _, err = scorelet(capsys, "import", str(path), "--touchpoint", slug, *where)
    assert code == 0, err
    wait_for(lambda: fresh_server.score(slug)["responses"] == 50, what="the imported ratings")


def test_another_touchpoints_export_gets_ids_of_its_own_in_the_same_database(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = installation(capsys, backend, tmp_path / "data")
    seeded(backend, tmp_path / "data")
    exported = tmp_path / "support.csv"
    assert scorelet(capsys, "export", "support", "-o", str(exported), *where)[0] == 0
    assert scorelet(capsys, "touchpoint", "add", "copy", "--metric", "csat", *where)[0] == 0
    argv = ["import", str(exported), "--touchpoint", "copy", *where]
    code, out, err = scorelet(capsys, *argv)
    assert code == 0, err
    assert "Imported 120 ratings into copy (0 were there already)" in out
    assert "Imported 0 ratings into copy (120 were there already)" in scorelet(capsys, *argv)[1]
    assert len(stored(backend, tmp_path / "data")) == 120, "the original is untouched"
