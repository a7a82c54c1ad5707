"""Benchmark: ingestion + classification of one vintage, on a fresh file warehouse.

    .venv/bin/python bench/bench_ingest.py --fraction 0.01            # generates if missing
    .venv/bin/python bench/bench_ingest.py --fraction 1.0             # data in bench/out/data-1
    /usr/bin/time -v .venv/bin/python bench/bench_ingest.py --fraction 1.0   # cross-check the peak RSS

It calls the real library entry points (``reference.load``, ``ingest.ingest_vintage``,
``perimeter.apply_perimeter``) and times every SQL file they run by wrapping ``run_sql`` in the
``ingest`` and ``perimeter`` modules, and every extract by wrapping ``ingest.read_extract``.

Per stage it prints wall time, CPU time (user + system; CPU/wall ≈ number of busy cores, much less than the
thread count means contention or I/O), rows, rows/s and the peak resident memory of the process during the
stage (Linux: the VmHWM high-water mark is reset before each stage through ``/proc/self/clear_refs``). The
process peak (``ru_maxrss``) is printed at the end. DuckDB runs in this process, so these are its figures.
Generation runs in a child process (``observatory generate``) so that it does not count in the peak.

One JSON line per run is appended to ``bench/out/results.jsonl`` (git-ignored); ``bench/results.md`` holds the
figures worth keeping.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import duckdb

from observatory import ingest, perimeter, reference
from observatory.config import DEFAULT_PERIMETRE
from observatory.warehouse import connect

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"


# ------------------------------------------------------------------------------------------------- measures


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux ≥ 4.0); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def stage_peak_mb() -> float | None:
    """RSS high-water mark since the last :func:`reset_peak`, in MB."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024


def process_peak_mb() -> float:
    """Peak RSS of the process so far (``ru_maxrss``), in MB. On Linux it is the same high-water mark that
    :func:`reset_peak` clears, so the process peak is also kept as the maximum of the stage peaks."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Collects one record per measured stage."""

    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []
        self._depth = 0
        self.peak_mb = process_peak_mb()

    @contextmanager
    def stage(self, name: str, rows: Callable[[], int] | None = None):
        """Time the block; ``rows`` (called after it) gives the rows it processed."""
        top = self._depth == 0
        if top:  # nested stages share their parent's high-water mark
            reset_peak()
        self._depth += 1
        cpu0, t0 = time.process_time(), time.perf_counter()
        rec: dict[str, object] = {"stage": name, "level": self._depth}
        self.records.append(rec)
        try:
            yield rec
        finally:
            wall = time.perf_counter() - t0
            self._depth -= 1
            rec["wall_s"] = round(wall, 3)
            rec["cpu_s"] = round(time.process_time() - cpu0, 3)
            if top:
                peak = stage_peak_mb() or process_peak_mb()
                self.peak_mb = max(self.peak_mb, peak)
                rec["peak_rss_mb"] = round(peak)
            if rows is not None:
                n = rows()
                rec["rows"] = n
                rec["rows_per_s"] = round(n / wall) if wall > 0 else None

    def print(self) -> None:
        print(f"{'stage':<50} {'wall s':>8} {'cpu s':>8} {'rows':>12} {'rows/s':>11} {'peak MB':>8}")
        for r in self.records:
            name = "  " * (int(r["level"]) - 1) + str(r["stage"])
            rows = f"{r['rows']:,}".replace(",", " ") if "rows" in r else ""
            rps = f"{r['rows_per_s']:,}".replace(",", " ") if r.get("rows_per_s") else ""
            peak = f"{r['peak_rss_mb']}" if "peak_rss_mb" in r else ""
            print(f"{name:<50} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {rows:>12} {rps:>11} {peak:>8}")


@contextmanager
def wrapped(module, attr: str, make_wrapper):
    """Temporarily replace ``module.attr`` by ``make_wrapper(original)``."""
    original = getattr(module, attr)
    setattr(module, attr, make_wrapper(original))
    try:
        yield
    finally:
        setattr(module, attr, original)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------------------------------------------- main


def generate(raw: Path, millesime: int, fraction: float) -> float:
    """Write the synthetic vintage with the CLI in a child process; return its wall time."""
    t0 = time.perf_counter()
    exe = Path(sys.executable).with_name("observatory")
    cmd = [str(exe), "generate", "--fraction", repr(fraction), "--millesime", str(millesime),
           "--seed", "42", "--out", str(raw.parent)]
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, object]:
    data_dir = Path(args.data_dir or OUT / f"data-{args.fraction:g}")
    raw = data_dir / str(args.millesime)
    figures: dict[str, object] = {
        "bench": "ingest_classify",
        "fraction": args.fraction,
        "threads": args.threads,
        "memory_limit": args.memory_limit,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "duckdb": duckdb.__version__,
    }
    if not raw.exists():
        figures["generate_s"] = round(generate(raw, args.millesime, args.fraction), 1)
        print(f"generated {raw} in {figures['generate_s']} s")
    figures["input_mb"] = round(sum(p.stat().st_size for p in raw.iterdir() if p.is_file()) / 2**20)

    st = Stages()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=args.work_dir))
    figures["load_before"] = os.getloadavg()[0]
    try:
        con = connect(work / "bench.duckdb", threads=args.threads)
        if args.memory_limit:
            con.execute("SET memory_limit = $m", {"m": args.memory_limit})
        con.execute("SET temp_directory = $t", {"t": (work / "spill").as_posix()})
        con.execute("SET enable_progress_bar = false")

        def time_extract(original):
            def read_extract(con_, kind, path, **kw):
                with st.stage(f"ingest.{kind}", rows=lambda: rep.rows_read):
                    rep = original(con_, kind, path, **kw)
                return rep
            return read_extract

        def time_sql(original, prefix):
            def run_sql(con_, relpath, params=None):
                with st.stage(f"{prefix}{relpath}"):
                    result = original(con_, relpath, params)
                return result
            return run_sql

        t_all = time.perf_counter()
        with st.stage("reference.load"):
            reference.load(con, perimetre=args.perimetre)
        with (
            wrapped(ingest, "read_extract", time_extract),
            wrapped(ingest, "run_sql", lambda o: time_sql(o, "sql ")),
            wrapped(perimeter, "run_sql", lambda o: time_sql(o, "sql ")),
        ):
            with st.stage("ingest (ingest_vintage)", rows=lambda: report.rows_read):
                report = ingest.ingest_vintage(con, raw)
            with st.stage("classify (apply_perimeter)", rows=lambda: sum(
                _count(con, f"staging.{t}") for t in ("unites_legales", "etablissements", "postes")
            )):
                counts = perimeter.apply_perimeter(con, args.perimetre)
        total = time.perf_counter() - t_all
        figures["ingest_classify_s"] = round(total, 1)
        figures["rows_read"] = report.rows_read
        figures["rows_rejected"] = report.rows_rejected
        figures["quarantine_rate"] = round(report.quarantine_rate, 6)
        figures["quarantined"] = _count(con, "staging.quarantaine")
        figures["staging"] = {k: r.rows_loaded for k, r in report.extracts.items()}
        figures["ess"] = {k: v for k, v in counts.items() if k.startswith(("ess.", "quarantaine."))}
        con.close()
        figures["warehouse_mb"] = round((work / "bench.duckdb").stat().st_size / 2**20)
        spill = work / "spill"
        figures["spilled"] = spill.exists() and any(spill.iterdir())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["load_after"] = os.getloadavg()[0]
    figures["peak_rss_mb"] = round(max(st.peak_mb, process_peak_mb()))
    figures["stages"] = st.records

    st.print()
    print(f"\nfraction {args.fraction:g}: ingest + classify {figures['ingest_classify_s']} s, "
          f"process peak RSS {figures['peak_rss_mb']} MB, "
          f"{figures['rows_read']:,} rows read, {figures['quarantined']:,} quarantine rows, "
          f"warehouse {figures['warehouse_mb']} MB, spilled {figures['spilled']}, "
          f"load {figures['load_before']:.1f} → {figures['load_after']:.1f}".replace(",", " "))
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fraction", type=float, default=0.01)
    p.add_argument("--millesime", type=int, default=2023)
    p.add_argument("--perimetre", default=DEFAULT_PERIMETRE)
    p.add_argument("--data-dir", default=None, help="default: bench/out/data-<fraction>")
    p.add_argument("--work-dir", default=None, help="where the warehouse file is made (default: $TMPDIR)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-limit", default="4GB",
                   help="DuckDB memory_limit (buffer pool only; the process peak is higher)")
    args = p.parse_args()
    figures = run(args)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "results.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
