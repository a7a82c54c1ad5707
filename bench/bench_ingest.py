"""Benchmark: ingestion + classification of one vintage, on a fresh warehouse.

    .venv/bin/python bench/bench_ingest.py --fraction 0.01            # generates if missing
    .venv/bin/python bench/bench_ingest.py --fraction 1.0 --threads 2

Prints wall time, rows/s and peak resident memory (RSS) per stage, and appends a line to
``bench/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from observatory import ingest, perimeter, reference, synth
from observatory.warehouse import connect

ROOT = Path(__file__).resolve().parent


def peak_rss_mb() -> float:
    """Peak RSS of this process and its finished children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fraction", type=float, default=0.01)
    p.add_argument("--millesime", type=int, default=2023)
    p.add_argument("--data-dir", default=None, help="default: bench/out/data-<fraction>")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-limit", default="6GB")
    args = p.parse_args()

    data_dir = Path(args.data_dir or ROOT / "out" / f"data-{args.fraction:g}")
    raw = data_dir / str(args.millesime)
    figures: dict[str, object] = {"fraction": args.fraction}
    if not raw.exists():
        t0 = time.perf_counter()
        rows = synth.generate(out_dir=raw, millesime=args.millesime, fraction=args.fraction, seed=42,
                              dirty_rate=0.002)
        figures["generate_s"] = round(time.perf_counter() - t0, 1)
        print(f"generate      {figures['generate_s']:8.1f} s  {rows}")

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        con = connect(work / "bench.duckdb", threads=args.threads)
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
        con.execute(f"SET temp_directory = '{(work / 'spill').as_posix()}'")
        t0 = time.perf_counter()
        reference.load(con)
        t_ref = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = ingest.ingest_vintage(con, raw)
        t_ing = time.perf_counter() - t0
        n_postes = con.execute("SELECT count(*) FROM staging.postes").fetchone()[0]
        n_etab = con.execute("SELECT count(*) FROM staging.etablissements").fetchone()[0]
        n_ul = con.execute("SELECT count(*) FROM staging.unites_legales").fetchone()[0]

        t0 = time.perf_counter()
        perimeter.apply_perimeter(con, "insee-2008-4f")
        t_per = time.perf_counter() - t0
        rows_in = n_postes + n_etab + n_ul
        figures.update(
            reference_s=round(t_ref, 2),
            ingest_s=round(t_ing, 1),
            classify_s=round(t_per, 1),
            rows=rows_in,
            postes=n_postes,
            etablissements=n_etab,
            unites_legales=n_ul,
            ingest_rows_per_s=round(rows_in / t_ing),
            classify_rows_per_s=round(rows_in / t_per),
            peak_rss_mb=round(peak_rss_mb()),
            quarantined=sum(report.quarantined_by_motif().values()) if hasattr(report, "quarantined_by_motif")
            else None,
        )
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for k, v in figures.items():
        print(f"{k:<22} {v}")
    with open(ROOT / "results.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"bench": "ingest_classify", **figures}) + "\n")


if __name__ == "__main__":
    main()
