"""A few seconds of bench/soak.py, so the soak script keeps working between real runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parent.parent / "bench" / "soak.py"


def test_a_short_soak_reports_rate_latency_rss_and_no_errors(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "3", "--rate", "100", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(report.read_text())[-1]["summary"]
    assert summary["requests"] == 300
    assert summary["errors"] == 0
    assert summary["statuses"] == {"201": 300}
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["rss_end_mib"] > 0
