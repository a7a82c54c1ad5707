"""Benchmark: the whole ``observatory run`` (every stage) at a given fraction of the national volume.

    .venv/bin/python bench/bench_national.py --fraction 0.01            # generates the extracts if missing
    .venv/bin/python bench/bench_national.py --fraction 0.1
    .venv/bin/python bench/bench_national.py --scale france --region 53 # full run, then one region alone

Data and outputs go under ``--root`` (default ``/work/national-data``; never the repository):
``<root>/f<fraction>/{data_raw,output,warehouse,dagster_home}``. Each run starts from an empty warehouse and
output folder (the extracts are kept). The pipeline runs as a child process, exactly as a user types it
(``observatory run --millesime M``); this script samples the resident memory of the whole process tree
(the run and its region workers, τ-Argus children) every 0.2 s from ``/proc`` with psutil.

Per stage it prints the wall seconds (from the run report in ``manifest.json``), the peak RSS of the tree
while that stage ran (the report's step windows), and input rows per second (rows read from the four
extracts / stage seconds). Region partitions run two at a time: their seconds are summed, their windows
overlap. The load average before and after is recorded with every figure: on the shared 2-core machine a
load above 2 means someone else had a core. One JSON line per run goes to ``bench/out/national.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
BIN = Path(sys.executable).parent


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants (processes that vanish meanwhile are skipped)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class Sampler:
    """Samples the tree RSS of a running child in a thread: ``samples`` = [(epoch s, bytes)]."""

    def __init__(self, pid: int, every: float = 0.2):
        self.proc = psutil.Process(pid)
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss(self.proc)))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start: float | None = None, end: float | None = None) -> float:
        vals = [b for t, b in self.samples if (start is None or t >= start - 0.2) and (end is None or t <= end + 0.2)]
        return round(max(vals, default=0) / 2**20)


def env_for(base: Path) -> dict:
    env = dict(os.environ)
    env.update(
        OBSERVATORY_DATA_DIR=str(base / "data_raw"),
        OBSERVATORY_OUTPUT_DIR=str(base / "output"),
        OBSERVATORY_WAREHOUSE=str(base / "warehouse" / "observatory.duckdb"),
        OBSERVATORY_CACHE_DIR=str(base / "warehouse" / "cache"),
        DAGSTER_HOME=str(base / "dagster_home"),
    )
    return env


def timed_run(args: list[str], env: dict, log: Path) -> dict:
    """Run ``observatory …`` as a child; wall seconds, tree peak, exit code, the samples."""
    load = os.getloadavg()
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        child = subprocess.Popen([str(BIN / "observatory"), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = Sampler(child.pid)
        rc = child.wait()
        sampler.stop()
    return {
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": sampler.peak_mb(),
        "rc": rc,
        "load_before": load,
        "load_after": os.getloadavg(),
        "sampler": sampler,
    }


def stage_table(report: dict, sampler: Sampler, rows_read: int) -> list[dict]:
    rows = []
    windows = report.get("steps_window", {})
    for key, seconds in sorted(report.get("steps_s", {}).items(), key=lambda kv: -kv[1]):
        spans = windows.get(key) or []
        peak = max((sampler.peak_mb(s, e) for s, e in spans), default=None)
        rows.append(
            {
                "stage": key,
                "seconds": round(seconds, 2),
                "peak_rss_mb": peak,
                "rows_per_s": round(rows_read / seconds) if seconds > 0.05 and rows_read else None,
            }
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fraction", type=float, default=0.01)
    p.add_argument("--scale", choices=["france"], default=None, help="--scale france = fraction 1.0")
    p.add_argument("--millesime", type=int, default=2023)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--root", default="/work/national-data")
    p.add_argument("--region", default=None, help="then rebuild this region alone and time it")
    p.add_argument("--keep", action="store_true", help="keep the warehouse and outputs of the previous run")
    args = p.parse_args()
    fraction = 1.0 if args.scale == "france" else args.fraction
    base = Path(args.root) / ("france" if fraction == 1.0 else f"f{fraction:g}")
    env = env_for(base)
    raw = base / "data_raw" / str(args.millesime)
    figures: dict = {"bench": "national", "fraction": fraction, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if not raw.exists() or not any(raw.iterdir()):
        scale = ["--scale", "france"] + ([] if fraction == 1.0 else ["--fraction", str(fraction)])
        t0 = time.perf_counter()
        subprocess.run(
            [str(BIN / "observatory"), "generate", *scale, "--millesime", str(args.millesime), "--seed", str(args.seed)],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
        figures["generate_s"] = round(time.perf_counter() - t0, 1)
    if not args.keep:
        for sub in ("output", "warehouse"):
            shutil.rmtree(base / sub, ignore_errors=True)
    (base / "dagster_home").mkdir(parents=True, exist_ok=True)

    full = timed_run(["run", "--millesime", str(args.millesime)], env, base / "run.log")
    sampler = full.pop("sampler")
    figures["run"] = full
    if full["rc"] != 0:
        print((base / "run.log").read_text()[-3000:])
        print(f"observatory run failed (exit {full['rc']})", file=sys.stderr)
        return 1
    manifest = json.loads((base / "output" / str(args.millesime) / "manifest.json").read_text())
    report = manifest["run"]
    rows_read = int(report.get("read", {}).get("rows_read") or 0)
    figures["rows_read"] = rows_read
    figures["timings_s"] = report.get("timings_s", {})
    figures["stages"] = stage_table(report, sampler, rows_read)
    if args.region:
        one = timed_run(["run", "--millesime", str(args.millesime), "--region", args.region], env, base / "region.log")
        one.pop("sampler")
        figures["region"] = {"code": args.region, **one}

    print(f"fraction {fraction:g}: {rows_read:,} input rows".replace(",", " "))
    print(f"{'stage':<52} {'wall s':>8} {'peak MB':>8} {'rows/s':>11}")
    for r in figures["stages"]:
        rps = f"{r['rows_per_s']:,}".replace(",", " ") if r["rows_per_s"] else ""
        print(f"{r['stage']:<52} {r['seconds']:8.1f} {r['peak_rss_mb'] or '':>8} {rps:>11}")
    print("steps (wall s):", ", ".join(f"{k} {v}" for k, v in figures["timings_s"].items()))
    print(
        f"whole run: {full['wall_s']} s, peak RSS of the process tree {full['peak_rss_mb']} MB, "
        f"load {full['load_before'][0]:.1f} → {full['load_after'][0]:.1f}"
    )
    if args.region:
        r = figures["region"]
        print(f"region {args.region} alone: {r['wall_s']} s, peak {r['peak_rss_mb']} MB, rc {r['rc']}")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "national.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(figures, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
