"""The breakdown benchmark runs end to end on a tiny data set (the real run is 1M ratings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "bench" / "breakdown.py"


def test_breakdown_bench_runs_and_checks_exactness(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--responses", "500", "--agents", "7", "--rounds", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["responses"] == 500
    assert result["store"]["agents"] == 7
    for name in ("noop", "all_time", "last_30_days"):
        assert result["store"][name]["p50_ms"] > 0
    assert "500 ratings across 7 agents" in done.stdout


def test_dashboard_bench_runs_on_a_tiny_data_set(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH.parent / "dashboard.py"), "--responses", "400", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["responses"] == 400
    for name in ("healthz", "overview_repeated", "overview_after_a_rating", "touchpoint_repeated"):
        assert result[name] > 0
