"""Time the publications of a vintage folder: every regional panorama and departmental plaquette.

    python bench/bench_publications.py [OUTPUT_VINTAGE_DIR] [--region CODE] [--repeat N]

Without a folder, a fake indicator table (tests/fixtures_indicateurs.py: 3 régions, 11 départements) is
written to a temporary folder first. Prints the time of each document, the total, and the time to rebuild
one regional panorama warm (target < 3 s), the figure the pipeline's region partitions care about.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from observatory.publish import documents

TARGET_REGION_S = 3.0


def bench(vintage: Path, region: str | None = None, repeat: int = 3) -> dict:
    """Build every panorama and plaquette once, then rebuild one panorama ``repeat`` times; return timings."""
    t0 = time.perf_counter()
    table = documents.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage)
    timings: dict = {"read_table_s": time.perf_counter() - t0, "regions": {}, "departements": {}}
    start = time.perf_counter()
    for reg in table.codes("region"):
        t = time.perf_counter()
        documents.build_region_panorama(table, manifest, reg, vintage)
        timings["regions"][reg] = time.perf_counter() - t
        for dep in table.departements_of(reg):
            t = time.perf_counter()
            documents.build_departement_plaquette(table, manifest, dep, vintage)
            timings["departements"][dep] = time.perf_counter() - t
    timings["all_s"] = time.perf_counter() - start
    region = region or table.codes("region")[0]
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        documents.build_region_panorama(table, manifest, region, vintage)
        runs.append(time.perf_counter() - t)
    timings["one_region"] = {"code": region, "median_s": statistics.median(runs), "runs_s": runs}
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vintage", nargs="?", type=Path, help="output/<millesime>/ folder")
    parser.add_argument("--region", help="région code of the single-panorama timing")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        vintage = args.vintage
        if vintage is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.fixtures_indicateurs import write_output

            vintage = write_output(tmp)
        res = bench(vintage, args.region, args.repeat)
    for reg, s in res["regions"].items():
        print(f"panorama région {reg:>3}: {s:6.2f} s")
    for dep, s in res["departements"].items():
        print(f"plaquette département {dep:>3}: {s:6.2f} s")
    n = len(res["regions"]) + len(res["departements"])
    print(f"all {n} documents: {res['all_s']:.2f} s (table read {res['read_table_s']:.2f} s)")
    one = res["one_region"]
    verdict = "OK" if one["median_s"] < TARGET_REGION_S else "SLOWER THAN TARGET"
    print(
        f"rebuild one regional panorama ({one['code']}): median {one['median_s']:.2f} s over "
        f"{len(one['runs_s'])} runs — target < {TARGET_REGION_S:.0f} s: {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
