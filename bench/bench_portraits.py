"""Time the EPCI portraits of a vintage and one territory on demand (warm).

    python bench/bench_portraits.py OUTPUT_VINTAGE_DIR [--warehouse W] [--jobs 2] [--limit N] [--territoires K]
    python bench/bench_portraits.py OUTPUT_VINTAGE_DIR --one-core N

``--one-core N``: the first N EPCI portraits in this one process, each stage timed in CPU seconds of the
process (all its threads, typst's included) and wall seconds: the per-portrait cost on one core, which a
shared machine's load inflates less than the wall time (the load average is printed with it).

EPCI portraits: every EPCI of the published table (or the first ``--limit``), built into a temporary folder
by ``--jobs`` worker processes, each taking whole régions as the pipeline's région partitions do; the
layout check of each portrait is timed with it. Territories on demand (with ``--warehouse``): ``K`` new
territories (a département's communes minus one, then shifting halves), published one after the other in
one process: the first is cold (COG and warehouse read), the others warm — the figure of the issue
(under 20 s). They are written into a copy of the vintage folder and a registry beside a copy of the
warehouse path, so the published folder is never touched.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from observatory.publish import documents, model, portrait, render

TARGET_EPCI_S = 300.0
TARGET_TERRITORY_S = 20.0


def _region_batch(vintage: Path, codes: list[str], out: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage)
    portrait.build_epci_portraits(table, manifest, out, codes)
    report = portrait.check_portraits(table, {c: out / portrait.SUBDIR / f"epci-{c}.pdf" for c in codes})
    if report.problems:
        raise SystemExit("layout problems: " + "; ".join(report.problems[:5]))
    return len(codes), time.perf_counter() - t0


def bench_epci(vintage: Path, jobs: int, limit: int | None) -> None:
    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    codes = table.codes("epci")[:limit] if limit else table.codes("epci")
    by_region: dict[str, list[str]] = {}
    for c in codes:
        by_region.setdefault(portrait.epci_region(c) or "?", []).append(c)
    with tempfile.TemporaryDirectory(prefix="bench-portraits-") as tmp:
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(
                pool.map(
                    _region_batch,
                    [vintage] * len(by_region),
                    list(by_region.values()),
                    [Path(tmp)] * len(by_region),
                )
            )
        wall = time.perf_counter() - t0
        n = sum(r[0] for r in results)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    print(
        f"EPCI portraits: {n} in {wall:.1f} s wall with {jobs} worker(s) ({wall / max(n, 1):.2f} s each; "
        f"target {TARGET_EPCI_S:.0f} s for all): PDF + XLSX + CSV + layout check, {size / 1e6:.0f} MB"
    )


def _write_csvs(doc: model.Document, folder: Path) -> None:
    for s in doc.sections:
        for f in s.figures:
            render.write_csv(f, folder / f"{f.id}.csv")


def bench_one_core(vintage: Path, n: int) -> None:
    import os

    from observatory.publish import xlsx

    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage)
    codes = table.codes("epci")[:n]
    portrait.epci_places()  # the COG, read once per process: not a per-portrait cost
    cpu = dict.fromkeys(("document", "pdf", "xlsx", "csv", "check"), 0.0)
    wall = dict(cpu)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-portraits-") as tmp:
        out = Path(tmp)
        (out / "build").mkdir()
        batch = portrait.Batch(out / "build")
        pdfs = {}

        def timed(stage, fn, *args):
            c, w = time.process_time(), time.perf_counter()
            res = fn(*args)
            cpu[stage] += time.process_time() - c
            wall[stage] += time.perf_counter() - w
            return res

        for code in codes:
            doc = timed("document", portrait.epci_document, table, manifest, code)
            pdfs[code] = timed("pdf", batch.compile, doc, out / f"epci-{code}.pdf")
            timed("xlsx", xlsx.write_workbook, doc, out / f"epci-{code}.xlsx", out / code)
            timed("csv", _write_csvs, doc, out / code)
        report = timed("check", portrait.check_portraits, table, pdfs)
        if report.problems:
            raise SystemExit("layout problems: " + "; ".join(report.problems[:5]))
    per = {k: 1000 * v / len(codes) for k, v in cpu.items()}
    print(
        f"one core, {len(codes)} EPCI portraits (load average {load:.1f} → {os.getloadavg()[0]:.1f}): "
        f"{sum(per.values()):.0f} ms CPU per portrait ({1000 * sum(wall.values()) / len(codes):.0f} ms wall): "
        + ", ".join(f"{k} {v:.0f}" for k, v in per.items())
    )


def bench_territories(vintage: Path, warehouse: Path, k: int) -> None:
    from observatory import territories as terr
    from observatory.config import Settings
    from observatory.territories.build import publish_territory

    with tempfile.TemporaryDirectory(prefix="bench-territoires-") as tmp:
        out = Path(tmp) / "output"
        (out / vintage.name / "tables").mkdir(parents=True)
        shutil.copy(vintage / "tables" / "indicateurs.parquet", out / vintage.name / "tables")
        if (vintage / "manifest.json").exists():
            shutil.copy(vintage / "manifest.json", out / vintage.name)
        wh = Path(tmp) / "warehouse" / warehouse.name
        wh.parent.mkdir()
        wh.symlink_to(warehouse.resolve())
        settings = Settings(output_dir=out, warehouse=wh, millesime=int(vintage.name))
        com = portrait._communes()
        deps = com[com["code_departement"] == "29"]["code_commune"].tolist()
        times = []
        for i in range(k):
            codes = deps[1:] if i == 0 else deps[(i * 37) % len(deps) :][: len(deps) // 2]
            req = terr.TerritoryRequest(f"bench-{i}", f"Territoire {i}", tuple(sorted(codes)))
            t0 = time.perf_counter()
            res = publish_territory(settings, req)
            times.append(time.perf_counter() - t0)
            print(
                f"  territory {i}: {len(codes)} communes, {res.hidden}/{len(res.cells)} cells hidden, {times[-1]:.1f} s"
            )
    warm = times[1:] or times
    print(
        f"territory on demand: cold {times[0]:.1f} s, warm median {statistics.median(warm):.1f} s "
        f"(max {max(warm):.1f} s; target {TARGET_TERRITORY_S:.0f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vintage", type=Path)
    ap.add_argument("--warehouse", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--territoires", type=int, default=3)
    ap.add_argument("--skip-epci", action="store_true")
    ap.add_argument("--one-core", type=int, default=None, metavar="N")
    args = ap.parse_args()
    if args.one_core:
        bench_one_core(args.vintage, args.one_core)
        return
    if not args.skip_epci:
        bench_epci(args.vintage, args.jobs, args.limit)
    if args.warehouse is not None:
        bench_territories(args.vintage, args.warehouse, args.territoires)


if __name__ == "__main__":
    main()
