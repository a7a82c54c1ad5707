"""Time the publications of a vintage folder: the maps, every regional panorama and departmental plaquette,
the France égalité report, and the rebuild of one regional panorama.

    python bench/bench_publications.py [OUTPUT_VINTAGE_DIR] [--region CODE] [--repeat N] [--jobs J]

Without a folder, a fake indicator table (tests/fixtures_indicateurs.py: 3 régions, 11 départements) is
written to a temporary folder first. The figures of issue 4 §10 come from the outputs of
``observatory generate --fraction 0.01`` + ``observatory run`` (18 régions, 101 départements): targets under
5 minutes for everything on this 2-core machine and under 3 s to rebuild one regional panorama (warm).
``--jobs 2`` builds the région partitions two at a time in worker processes, as the pipeline does.
Prints wall times and the peak resident memory (this process and, with ``--jobs``, its largest worker).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from observatory.publish import documents, evolution, maps, model

TARGET_ALL_S = 300.0
TARGET_REGION_S = 3.0


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


def _build_region(vintage: Path, region: str) -> tuple[str, float, dict[str, float]]:
    """One région partition: its panorama and its départements' plaquettes (timed one by one)."""
    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage)
    history = evolution.earlier_vintages(vintage, table.millesime)
    t = time.perf_counter()
    documents.build_region_panorama(table, manifest, region, vintage, history)
    reg_s = time.perf_counter() - t
    deps = {}
    for dep in table.departements_of(region):
        t = time.perf_counter()
        documents.build_departement_plaquette(table, manifest, dep, vintage, history)
        deps[dep] = time.perf_counter() - t
    return region, reg_s, deps


def bench(
    vintage: Path,
    region: str | None = None,
    repeat: int = 3,
    jobs: int = 1,
    cache_dir: Path | None = None,
    with_maps: bool = True,
) -> dict:
    """Build the maps, every panorama and plaquette and the égalité report, then rebuild one panorama."""
    wall = time.perf_counter()
    t0 = time.perf_counter()
    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage)
    timings: dict = {"read_table_s": time.perf_counter() - t0, "regions": {}, "departements": {}}
    if with_maps:
        t = time.perf_counter()
        maps.render_maps(pd.read_parquet(vintage / "tables" / "indicateurs.parquet"), vintage, cache_dir)
        timings["maps_s"] = time.perf_counter() - t
    start = time.perf_counter()
    codes = table.codes("region")
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_build_region, [vintage] * len(codes), codes))
    else:
        results = [_build_region(vintage, reg) for reg in codes]
    for reg, reg_s, deps in results:
        timings["regions"][reg] = reg_s
        timings["departements"].update(deps)
    timings["documents_s"] = time.perf_counter() - start
    if table.codes("france"):
        t = time.perf_counter()
        documents.build_egalite_france(table, manifest, vintage)
        timings["egalite_s"] = time.perf_counter() - t
    timings["all_s"] = time.perf_counter() - wall
    region = region or max(timings["regions"], key=timings["regions"].get)
    history = evolution.earlier_vintages(vintage, table.millesime)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        documents.build_region_panorama(table, manifest, region, vintage, history)
        runs.append(time.perf_counter() - t)
    timings["one_region"] = {"code": region, "median_s": statistics.median(runs), "runs_s": runs}
    timings["peak_rss_mb"] = _peak_mb()
    timings["peak_rss_worker_mb"] = _peak_mb(resource.RUSAGE_CHILDREN) if jobs > 1 else None
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vintage", nargs="?", type=Path, help="output/<millesime>/ folder")
    parser.add_argument("--region", help="région code of the single-panorama timing (default: the slowest)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="région partitions built at once (processes)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="geometry cache (OBSERVATORY_CACHE_DIR)")
    parser.add_argument("--no-maps", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print the time of every document")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        vintage = args.vintage
        if vintage is None:
            from tests.fixtures_indicateurs import write_output

            vintage = write_output(tmp)
        res = bench(vintage, args.region, args.repeat, args.jobs, args.cache_dir, not args.no_maps)
    if args.verbose:
        for reg, s in res["regions"].items():
            print(f"panorama région {reg:>3}: {s:6.2f} s")
        for dep, s in res["departements"].items():
            print(f"plaquette département {dep:>3}: {s:6.2f} s")
    nreg, ndep = len(res["regions"]), len(res["departements"])
    reg_times, dep_times = list(res["regions"].values()), list(res["departements"].values())
    print(f"indicator table read: {res['read_table_s']:.2f} s")
    if "maps_s" in res:
        print(f"national maps (PNG + SVG + GeoPackage): {res['maps_s']:.1f} s")
    print(
        f"{nreg} panoramas + {ndep} plaquettes ({args.jobs} at once): {res['documents_s']:.1f} s "
        f"(panorama median {statistics.median(reg_times):.2f} s, max {max(reg_times):.2f} s; "
        f"plaquette median {statistics.median(dep_times):.2f} s)"
    )
    if "egalite_s" in res:
        print(f"égalité report France: {res['egalite_s']:.2f} s")
    verdict = "OK" if res["all_s"] < TARGET_ALL_S else "SLOWER THAN TARGET"
    print(f"all publications: {res['all_s']:.1f} s wall — target < {TARGET_ALL_S:.0f} s: {verdict}")
    one = res["one_region"]
    verdict = "OK" if one["median_s"] < TARGET_REGION_S else "SLOWER THAN TARGET"
    print(
        f"rebuild one regional panorama ({one['code']}): median {one['median_s']:.2f} s over "
        f"{len(one['runs_s'])} runs — target < {TARGET_REGION_S:.0f} s: {verdict}"
    )
    worker = f", largest worker {res['peak_rss_worker_mb']:.0f} MB" if res["peak_rss_worker_mb"] else ""
    print(f"peak RSS: {res['peak_rss_mb']:.0f} MB{worker}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
