"""The benchmark suite (bench/run.py) runs end to end on tiny sizes, so it can't rot.

Timings on a shared machine mean nothing here: these tests check the shape
of the results and the one thing that must hold at any speed, that no
acknowledged rating is missing from the database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import dataset  # noqa: E402


def test_bulk_fill_leaves_the_rollups_the_stores_own_import_and_fold_do(tmp_path: Path) -> None:
    spread = dataset.Spread(agents=7, days=30, now=time.time())
    bulk = dataset.Dataset.create(tmp_path / "bulk", 2, "s" * 20)
    plain = dataset.Dataset.create(tmp_path / "plain", 2, "s" * 20)
    for count, tp in ((500, 0), (700, 0), (300, 1)):  # appends, and a second touchpoint
        dataset.bulk_fill(bulk, bulk.touchpoints[tp], count, spread)
        dataset.import_fill(plain, plain.touchpoints[tp], count, spread)
    assert bulk.rows() == plain.rows() == 1500
    assert dataset.derived_tables(bulk.database) == dataset.derived_tables(plain.database)
    tables = dataset.derived_tables(bulk.database)
    assert all(tables[name] for name in ("daily", "hourly", "context", "context_totals", "totals"))


@pytest.mark.browser
def test_every_benchmark_runs_on_tiny_sizes_and_loses_nothing(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    argv = [
        *("--duration", "1", "--warmup", "0", "--rounds", "1", "--connections", "64"),
        *("--sizes", "1000", "--polling-responses", "2000", "--flat-duration", "1"),
        *("--cold-rounds", "3", "--memory-responses", "1500", "--widget-loads", "2"),
        *("--touchpoints", "4", "--sync", "normal", "--output", str(output)),
        *("--work", str(tmp_path)),
    ]
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(output.read_text())

    for connections in ("64",):
        ingest = results["ingest"]["by_connections"][connections]
        assert ingest["acks"] > 0
        assert ingest["lost"] == 0
        assert ingest["scorelet"]["errors"] == ingest["noop"]["errors"] == 0
        assert ingest["floor"]["errors"] == ingest["floor-schema"]["errors"] == 0
        assert ingest["floor_rps_ratio"] > 0
        assert ingest["floor-schema_rps_ratio"] > 0
    runs = results["ingest"]["runs"]
    assert all(run["lost"] == 0 for run in runs if run["app"] != "noop")
    assert all(run["rows_added"] > 0 for run in runs if run["app"].startswith("floor"))

    polling = results["polling"]["polling"]
    assert set(polling) == {"noop", "score_200", "score_304"}
    assert polling["score_304"]["rps_ratio"] > 0
    flat = results["polling"]["flatness"]["1000"]
    assert flat["score_p50_ms"] > 0
    assert flat["breakdown_p50_ms"] > 0

    widget = results["widget"]
    assert 0 < widget["gzipped_bytes"]["loader"] < widget["gzipped_bytes"]["total"]
    assert widget["widget_rendered_ms"] > 0
    assert widget["identified_rendered_ms"] > 0, "the signed-in page rendered too"
    assert widget["identified_loader_gzipped_bytes"] > widget["gzipped_bytes"]["loader"]

    memory = results["memory"]
    assert memory["responses"] >= 1500
    assert memory["lost"] == 0
    assert memory["peak_rss_mb"] >= memory["rss_at_start_mb"] > 0

    on_postgres = results["postgres"]["by_connections"]["64"]
    assert on_postgres["acks"] > 0
    assert on_postgres["lost"] == 0
    assert on_postgres["scorelet_cpu_us"] > 0
    assert on_postgres["postgres_cpu_us"] > 0  # PostgreSQL's own processes were measured
    assert results["postgres"]["polling"]["two"]["rps"] > 0

    verdicts = {row["result"].removesuffix(" (noisy)") for row in results["table"]}
    assert verdicts <= {"PASS", "MISS", ""}
    assert "PASS" in done.stdout or "MISS" in done.stdout


@pytest.mark.parametrize(("path", "status"), [("ingest", 201), ("score", 200)])
def test_the_app_cpu_benchmark_answers_every_request(path: str, status: int) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "app_cpu.py"), path, "--requests", "128", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"answers {{{status}: 128}}" in done.stdout
    assert "event loop" in done.stdout


def test_the_id_order_benchmark_stores_both_kinds() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "ids.py"), "--rows", "320"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["random", "time-ordered"]
    assert all("320 rows" in line for line in lines)
