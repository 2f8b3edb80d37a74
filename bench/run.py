"""Scorelet against the limit of its own stack: every figure a ratio to a same-run baseline.

    python bench/run.py                    # everything, the real sizes (about 20 minutes)
    python bench/run.py --only ingest,widget --rounds 5
    python bench/run.py --duration 1 --rounds 1 --sizes 1000 --polling-responses 2000 \\
        --memory-responses 2000 --widget-loads 2          # a smoke run

Prints a table with PASS/MISS per target and writes bench/results.json
(or --output). Servers are pinned to core 0 and wrk to core 1; see README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import ingest
import polling
import postgresql
import widget_load

SECTIONS = ("ingest", "polling", "widget", "memory", "postgres")
# A baseline whose req/s moved by more than this between rounds was disturbed by other
# load on the machine: its ratios are flagged, and the CPU-per-request ratio is the guide.
NOISY = 1.25


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    add("--duration", type=float, default=10.0, help="seconds per measured wrk run")
    add("--warmup", type=float, default=2.0, help="seconds of wrk before each measured run")
    add("--rounds", type=int, default=3, help="A B rounds per comparison")
    add("--connections", type=_ints, default=[16, 64], help="ingest concurrencies, e.g. 16,64")
    add("--touchpoints", type=int, default=50, help="touchpoints the ingest bodies spread over")
    add("--sizes", type=_ints, default=[1000, 100_000, 1_000_000, 10_000_000],
        help="flatness sizes (ratings), e.g. 1000,100000")  # fmt: skip
    add("--flat-duration", type=float, default=5.0, help="seconds per flatness p50 run")
    add("--cold-rounds", type=int, default=20, help="calls per cold-query median")
    add("--polling-responses", type=int, default=1_000_000)
    add("--memory-responses", type=int, default=1_000_000)
    add("--widget-loads", type=int, default=20)
    add("--sync", choices=("full", "normal"), default="full", help="SCORELET_SYNC (default full)")
    add("--output", type=Path, default=Path(__file__).resolve().parent / "results.json")
    add("--work", type=Path, help="scratch directory (default: a temporary one)")
    add("--report", type=Path, help="print the table of an earlier results file; run nothing")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    args.warmup = min(args.warmup, args.duration)
    return args


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


# -- targets ------------------------------------------------------------------------------


def cpu_ratio(noop: dict[str, Any], scorelet: dict[str, Any]) -> str:
    """No-op CPU per request over Scorelet's: the req/s ratio a core of its own would give."""
    return f"{noop['cpu_us_per_request'] / scorelet['cpu_us_per_request']:.2f}x"


def verdict(ok: bool, spread: float = 1.0) -> str:
    """PASS or MISS; "(noisy)" when the baseline's req/s varied by over NOISY between rounds."""
    return ("PASS" if ok else "MISS") + (" (noisy)" if spread > NOISY else "")


def spread(values: list[float]) -> float:
    """max / min: how much a figure moved between rounds of the same run."""
    return max(values) / min(values) if values and min(values) > 0 else 1.0


def table(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row per figure: what, Scorelet, baseline, ratio, target, PASS/MISS."""
    rows: list[dict[str, str]] = []

    def row(what: str, value: str, base: str = "", ratio: str = "", target: str = "",
            ok: bool | None = None, noise: float = 1.0) -> None:  # fmt: skip
        result = "" if ok is None else verdict(ok, noise)
        rows.append({"what": what, "scorelet": value, "baseline": base, "ratio": ratio,
                     "target": target, "result": result})  # fmt: skip

    runs = results.get("ingest", {}).get("runs", [])

    for c, s in results.get("ingest", {}).get("by_connections", {}).items():
        sc, no = s["scorelet"], s["noop"]
        gate = c == "64"
        noise = spread(
            [r["rps"] for r in runs if r["app"] == "noop" and str(r["connections"]) == c]
        )
        row(f"ingest c={c} req/s", f"{sc['rps']:,}", f"{no['rps']:,}", f"{s['rps_ratio']:.2f}x",
            "≥ 0.75x" if gate else "", s["rps_ratio"] >= 0.75 if gate else None, noise)  # fmt: skip
        for floor, what in (("floor", "bare table"), ("floor-schema", "Scorelet's schema")):
            if floor in s:
                fl = s[floor]
                row(f"  {floor} c={c} req/s ({what})", f"{fl['rps']:,}", f"{no['rps']:,}",
                    f"{s[f'{floor}_rps_ratio']:.2f}x")  # fmt: skip
                row(f"  {floor} c={c} CPU µs/req", f"{fl['cpu_us_per_request']:.1f}",
                    f"{no['cpu_us_per_request']:.1f}", cpu_ratio(no, fl))  # fmt: skip
        row(f"ingest c={c} p50 ms", f"{sc['p50_ms']:.2f}", f"{no['p50_ms']:.2f}")
        row(f"ingest c={c} p99 ms", f"{sc['p99_ms']:.2f}", f"{no['p99_ms']:.2f}",
            f"{s['p99_ratio']:.2f}x", "≤ 3x" if gate else "",
            s["p99_ratio"] <= 3 if gate else None, noise)  # fmt: skip
        row(f"ingest c={c} CPU µs/req", f"{sc['cpu_us_per_request']:.1f}",
            f"{no['cpu_us_per_request']:.1f}", cpu_ratio(no, sc))  # fmt: skip
        row(f"ingest c={c} lost acks", f"{s['lost']} of {s['acks']:,}", "", "", "0",
            s["lost"] == 0 and sc["errors"] == 0)  # fmt: skip
    poll = results.get("polling", {})
    if poll.get("polling"):
        p = poll["polling"]
        for name, goal in (("score_200", 0.8), ("score_304", 0.9)):
            row(f"GET score {name[-3:]} req/s @ {poll['responses']:,}", f"{p[name]['rps']:,}",
                f"{p['noop']['rps']:,}", f"{p[name]['rps_ratio']:.2f}x", f"≥ {goal}x",
                p[name]["rps_ratio"] >= goal, p["noop"].get("spread", 1.0))  # fmt: skip
            cpu, base = p[name]["cpu_us_per_request"], p["noop"]["cpu_us_per_request"]
            row(f"GET score {name[-3:]} CPU µs/req", f"{cpu:.1f}", f"{base:.1f}",
                cpu_ratio(p["noop"], p[name]))  # fmt: skip
    flat = poll.get("flatness", {})
    if flat:
        sizes = sorted(flat, key=int)
        low, high = flat[sizes[0]], flat[sizes[-1]]
        for size in sizes:
            f = flat[size]
            row(f"p50 score / breakdown @ {int(size):,} ms",
                f"{f['score_p50_ms']:.3f} / {f['breakdown_p50_ms']:.3f}", f"{f['noop_p50_ms']:.3f}",
                "", "", None)  # fmt: skip
            row(
                f"  cold: 30-day score / breakdown @ {int(size):,} ms",
                f"{f['cold']['score_30_days_ms']:.2f} / {f['cold']['breakdown_ms']:.2f}",
            )
        for name in ("score", "breakdown"):
            ratio = high[f"{name}_p50_ms"] / low[f"{name}_p50_ms"]
            row(f"{name} p50 {int(sizes[-1]):,} vs {int(sizes[0]):,}", "", "", f"{ratio:.2f}x",
                "≤ 1.2x", ratio <= 1.2)  # fmt: skip
    w = results.get("widget")
    if w:
        row("widget gzipped bytes (loader + runtime)",
            f"{w['gzipped_bytes']['total']:,} ({w['gzipped_bytes']['loader']} + "
            f"{w['gzipped_bytes']['runtime']:,})", "", "", "≤ 6,144",
            w["gzipped_bytes"]["total"] <= 6144)  # fmt: skip
        row("widget rendered, ms from navigation", f"{w['widget_rendered_ms']:.1f}",
            f"{w['empty_page_load_ms']:.1f}", f"+{w['rendered_after_empty_load_ms']:.1f} ms",
            "≤ +100 ms", w["rendered_after_empty_load_ms"] <= 100)  # fmt: skip
        row("  signed in (data-identity), ms from navigation", f"{w['identified_rendered_ms']:.1f}",
            f"{w['empty_page_load_ms']:.1f}",
            f"+{w['identified_rendered_after_empty_load_ms']:.1f} ms", "≤ +100 ms",
            w["identified_rendered_after_empty_load_ms"] <= 100)  # fmt: skip
    pg = results.get("postgres", {})
    for c, s in pg.get("by_connections", {}).items():
        gate = c == "64"
        row(f"PostgreSQL ingest c={c} req/s", f"{s['postgres_rps']:,}", f"{s['noop_rps']:,}",
            f"{s['rps_ratio']:.2f}x", "≥ 0.5x" if gate else "",
            s["rps_ratio"] >= 0.5 if gate else None)  # fmt: skip
        row("  CPU µs/rating: Scorelet + PostgreSQL",
            f"{s['scorelet_cpu_us']:.1f} + {s['postgres_cpu_us']:.1f}", "", "",
            f"{s['ratings_per_core_second']:,} ratings/s per core")  # fmt: skip
        row(f"PostgreSQL ingest c={c} lost acks", f"{s['lost']} of {s['acks']:,}", "", "",
            "0", s["lost"] == 0)  # fmt: skip
    if "polling" in pg:
        p = pg["polling"]
        for name, what in (("one", "one process"), ("two", "two processes")):
            row(f"PostgreSQL GET score, {what} req/s", f"{p[name]['rps']:,}",
                f"{p['noop']['rps']:,}", f"{p[name]['rps_ratio']:.2f}x",
                f"{p[name]['per_core_rps']:,}/s per core")  # fmt: skip
    m = results.get("memory")
    if m:
        row(f"peak RSS after {m['responses']:,} ingested", f"{m['peak_rss_mb']:.1f} MB",
            f"{m['rss_at_start_mb']:.1f} MB at start", "", "≤ 120 MB",
            m["peak_rss_mb"] <= 120 and m["lost"] == 0)  # fmt: skip
    return rows


def render(rows: list[dict[str, str]]) -> str:
    heads = {"what": "", "scorelet": "Scorelet", "baseline": "no-op", "ratio": "ratio",
             "target": "target", "result": ""}  # fmt: skip
    widths = {k: max(len(h), *(len(r[k]) for r in rows)) for k, h in heads.items()}

    def line(r: dict[str, str]) -> str:
        return "  ".join(r[k].ljust(widths[k]) for k in heads).rstrip()

    return "\n".join([line(heads), "  ".join("-" * w for w in widths.values()),
                      *(line(r) for r in rows)])  # fmt: skip


# -- main ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "pinned": harness.cores() >= 2,
    }


def main(args: argparse.Namespace) -> int:
    if args.report:  # only render the table of an earlier run
        print(render(table(json.loads(args.report.read_text()))))
        return 0
    harness.ensure_wrk()
    runners: dict[str, Callable[[argparse.Namespace, Path], dict[str, Any]]] = {
        "ingest": ingest.run,
        "polling": polling.run,
        "widget": widget_load.run,
        "memory": ingest.memory,
        "postgres": postgresql.run,
    }
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                               "machine": machine(), "args": _plain(vars(args))}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="scorelet-bench-", dir=args.work) as scratch:
        for section in SECTIONS:
            if section in args.only:
                print(f"== {section}", flush=True)
                started = time.monotonic()
                results[section] = runners[section](args, Path(scratch))
                results[section]["section_seconds"] = round(time.monotonic() - started, 1)
                args.output.write_text(json.dumps(results, indent=2) + "\n")  # so far
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    rows = table(results)
    results["table"] = rows
    print()
    print(render(rows))
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {args.output}")
    return 0


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


if __name__ == "__main__":
    sys.exit(main(parse()))
