"""Time the secrecy protection and the blocking audit, function by function, on a built warehouse.

    .venv/bin/python bench/bench_secrecy.py --warehouse /path/observatory.duckdb
    .venv/bin/python bench/bench_secrecy.py --warehouse W --audit-only     # ind.publication already built

The warehouse (``ess.*`` and ``ref.*`` filled by the pipeline) is copied to a temporary file first: the bench
never writes it. Steps: ``sql/indicators/cellules.sql``, :func:`observatory.secrecy.protect` (with its own
per-step timings: primary, each τ-Argus table, each closure), ``indicateurs.sql`` and ``publication.sql``,
then :func:`observatory.audit.audit_warehouse` with each of its parts timed (``recompute_cells``,
``_primary_violations``, ``_lp_checks``, ``_lp_checks_bands``, the joint check's ``family_relations`` and
``check_joint``; the module functions are wrapped).

Per step: wall seconds, CPU seconds (user + system of this process and of its finished children, i.e.
τ-Argus) and the peak RSS of the process during the step (VmHWM, reset before each step). On a shared
machine CPU seconds are the figure to compare; the load average is printed before and after.

It also prints the fingerprints that must not change when the code gets faster: SHA-256 of ``ind.masque``
and ``ind.publication`` (all rows, sorted, as CSV) and of the audit report (counts, violations, recoverable
cells). One JSON line per run goes to ``bench/out/secrecy.jsonl`` (git-ignored).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_ingest import reset_peak, stage_peak_mb

from observatory import audit, secrecy
from observatory.audit import run as audit_run
from observatory.config import Settings
from observatory.warehouse import connect, run_sql

OUT = Path(__file__).resolve().parent / "out"
AUDIT_PARTS = (
    "recompute_cells",
    "_primary_violations",
    "_lp_checks",
    "_lp_checks_champs",
    "_lp_checks_bands",
    "family_relations",
    "check_joint",
)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Steps:
    """Wall, CPU and peak RSS of named steps (nested steps are timed on their own as well)."""

    def __init__(self):
        self.rows: dict[str, dict] = {}

    def run(self, name: str, fn, *args, **kwargs):
        reset_peak()
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = fn(*args, **kwargs)
        self.rows[name] = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(cpu_seconds() - c0, 2),
            "peak_mb": round(stage_peak_mb() or 0.0),
        }
        return result

    def wrap(self, module, name: str, label: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            return self.run(label, fn, *args, **kwargs)

        setattr(module, name, timed)


def table_sha(con, table: str) -> tuple[int, str]:
    df = con.table(table).df()
    df = df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)
    return len(df), hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()[:16]


def report_sha(report: audit.AuditReport) -> str:
    text = json.dumps(
        [
            report.published_checked,
            report.tables_checked,
            report.hidden_checked,
            sorted(report.violations),
            sorted(report.recoverable),
            sorted(report.joint_findings),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--audit-only", action="store_true", help="audit the warehouse's ind.publication")
    parser.add_argument("--label", default="", help="free text stored with the JSON line (e.g. before/after)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    steps = Steps()
    protect_timings: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_secrecy_", dir=args.warehouse.parent) as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, copy)
        con = connect(copy)
        con.execute("SET memory_limit = '4GB'")
        n_postes = con.execute("SELECT count(*) FROM ess.postes").fetchall()[0][0]
        if not args.audit_only:
            settings = Settings()
            steps.run("cellules.sql", run_sql, con, "indicators/cellules.sql")
            counts = steps.run(
                "protect", secrecy.protect, con, workdir=Path(tmp) / "tauargus", timings=protect_timings
            )
            params = {"millesime": int(settings.millesime), "perimetre_version": settings.perimetre}
            steps.run("indicateurs.sql", run_sql, con, "indicators/indicateurs.sql", params)
            steps.run("publication.sql", run_sql, con, "indicators/publication.sql")
        else:
            counts = {}
        for part in AUDIT_PARTS:
            steps.wrap(audit_run, part, f"audit.{part}")
        report = steps.run("audit_warehouse", audit.audit_warehouse, con)
        n_cells = con.execute("SELECT count(*) FROM ind.cellules").fetchall()[0][0]
        fingerprints = {
            "ind.masque": table_sha(con, "ind.masque"),
            "ind.publication": table_sha(con, "ind.publication"),
            "audit": report_sha(report),
        }
        con.close()
    load_after = os.getloadavg()
    print(f"postes {n_postes:,} — cells {n_cells:,}".replace(",", " "))
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f}")
    print(f"  {'step':44s} {'wall s':>8s} {'cpu s':>8s} {'peak MB':>8s}")
    for name, row in steps.rows.items():
        print(f"  {name:44s} {row['wall_s']:8.2f} {row['cpu_s']:8.2f} {row['peak_mb']:8.0f}")
    for name, seconds in protect_timings.items():
        print(f"    protect: {name:42s} {seconds:8.2f}")
    print(report.summary().splitlines()[0], "|", " ".join(report.summary().splitlines()[1:5]))
    for name, fp in fingerprints.items():
        print(f"  sha {name}: {fp}")
    print("  mask:", {k: v for k, v in counts.items() if v})
    OUT.mkdir(exist_ok=True)
    with (OUT / "secrecy.jsonl").open("a", encoding="utf-8") as fh:
        record = {
            "label": args.label,
            "warehouse": str(args.warehouse),
            "postes": n_postes,
            "cells": n_cells,
            "load_before": load_before,
            "load_after": load_after,
            "steps": steps.rows,
            "protect": {k: round(v, 2) for k, v in protect_timings.items()},
            "fingerprints": fingerprints,
            "audit": [report.published_checked, len(report.violations), report.tables_checked,
                      report.hidden_checked, len(report.recoverable)],
            "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "python": sys.version.split()[0],
        }
        fh.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
