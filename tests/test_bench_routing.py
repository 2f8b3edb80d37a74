"""The routing benchmark runs end to end on a tiny load and checks nothing was lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "bench" / "routing.py"


def test_routing_bench_runs_and_counts_every_delivery(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--rounds",
            "1",
            "--touchpoints",
            "2",
            "--connections",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lost"] == 0
    assert result["deliveries_missing"] == 0
    assert {run["kind"] for run in result["runs"]} == {"plain", "queued", "notify"}
    assert result["ratio"] > 0
