"""Time the indicators and secrecy on a warehouse built by the pipeline, and the core aggregation in pandas.

    python bench/bench_indicators.py --warehouse warehouse/observatory.duckdb

The warehouse is copied to a temporary file first (the bench never writes the pipeline's warehouse). Prints
the seconds of each step: cells in DuckDB SQL, secrecy (primary + τ-Argus), indicator table, and the same
cell aggregation (FREQ, VALUE, MAX per cell) in plain pandas, with the pandas / DuckDB ratio.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from observatory import audit, secrecy
from observatory.config import Settings
from observatory.warehouse import connect, run_sql


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warehouse", required=True, type=Path, help="DuckDB file with ess.* and ref.* tables"
    )
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_ind_") as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, copy)
        con = connect(copy, threads=args.threads)
        n_postes = con.execute("SELECT count(*) FROM ess.postes").fetchone()[0]
        timings = {}
        t0 = time.perf_counter()
        run_sql(con, "indicators/cellules.sql")
        timings["cellules (DuckDB SQL)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        counts = secrecy.protect(con, workdir=Path(tmp) / "tauargus")
        timings["secrecy (primary + tau-argus)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        settings = Settings()
        run_sql(
            con,
            "indicators/indicateurs.sql",
            {"millesime": int(settings.millesime), "perimetre_version": settings.perimetre},
        )
        timings["indicateurs (DuckDB SQL)"] = time.perf_counter() - t0
        postes = con.table("ess.postes").df()
        etabs = con.table("ess.etablissements_employeurs").df()
        con.close()
        t0 = time.perf_counter()
        cells = audit.recompute_cells(postes, etabs)
        timings["cellules (pandas)"] = time.perf_counter() - t0
    print(f"postes: {n_postes:,}".replace(",", " "), f"— pandas cells: {len(cells):,}".replace(",", " "))
    for step, seconds in timings.items():
        print(f"  {step:32s} {seconds:8.2f} s")
    ratio = timings["cellules (pandas)"] / timings["cellules (DuckDB SQL)"]
    print(f"  pandas / DuckDB (cell aggregation): {ratio:.1f}x")
    print("  mask:", {k: v for k, v in counts.items() if v})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
