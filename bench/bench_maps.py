"""Benchmark of the geometries and maps: cold and warm geometry cache, every national map, region maps, portal.

Usage::

    .venv/bin/python bench/bench_maps.py            # the published table if present, else the fake one
    .venv/bin/python bench/bench_maps.py --table output/2023/tables/indicateurs.parquet

Writes the timings to ``bench/out/maps.json`` and prints them. The cold geometry build uses a fresh
temporary cache; "warm (new process)" includes the interpreter start and the geopandas import.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observatory.config import Settings
from observatory.publish import map_specs, maps, portal
from observatory.reference import geo

_WARM_CHILD = """
import sys, time
t0 = time.perf_counter()
from observatory.reference.geo import geometries
geometries("departement", sys.argv[1]); geometries("region", sys.argv[1])
print(time.perf_counter() - t0)
"""


def _timed(label: str, results: dict, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    results[label] = round(time.perf_counter() - t0, 3)
    print(f"{label:<55} {results[label]:8.2f} s", flush=True)
    return out


def _table(path: Path | None) -> tuple[pd.DataFrame, str]:
    published = path or Settings().vintage_output / "tables" / "indicateurs.parquet"
    if published.exists():
        return pd.read_parquet(published), str(published)
    from tests.fixtures_maps import fake_indicator_table

    return fake_indicator_table(), "tests.fixtures_maps.fake_indicator_table()"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--table", type=Path, default=None, help="indicator table (Parquet)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "maps.json")
    args = p.parse_args(argv)
    table, source = _table(args.table)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-maps-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        _timed(
            "geometries: cold build (all levels, GeoParquet cache)",
            results,
            geo.geometries,
            "departement",
            cache,
        )
        _timed("geometries: warm, same process (departement)", results, geo.geometries, "departement", cache)
        _timed("geometries: warm, same process (commune)", results, geo.geometries, "commune", cache)
        t0 = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", _WARM_CHILD, str(cache)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        results["geometries: warm, new process (incl. imports)"] = round(time.perf_counter() - t0, 3)
        results["geometries: warm, new process (excl. interpreter)"] = round(float(child.stdout.strip()), 3)
        for key in list(results)[-2:]:
            print(f"{key:<55} {results[key]:8.2f} s")

        g = _timed("maps: load layers", results, maps._Geo, cache)
        for spec in map_specs.MAPS:
            fig = _timed(f"map {spec.name}: draw", results, maps.draw_map, table, spec, geo=g)
            for ext in ("png", "svg"):
                _timed(
                    f"map {spec.name}: {ext}",
                    results,
                    maps.save_figure,
                    fig,
                    tmp / "cartes" / f"{spec.name}.{ext}",
                )
        _timed(
            "maps: indicateurs.gpkg", results, maps.write_geopackage, table, tmp / "cartes" / "x.gpkg", geo=g
        )
        _timed("render_maps (all national maps + gpkg)", results, maps.render_maps, table, tmp / "out", cache)
        codes = sorted(set(table.loc[table["niveau"] == "region", "code"]))
        t0 = time.perf_counter()
        for code in codes:
            maps.region_map(table, code, tmp / "regions" / f"region-{code}.png", cache)
        results[f"region_map x {len(codes)}"] = round(time.perf_counter() - t0, 3)
        print(f"{f'region_map x {len(codes)}':<55} {results[f'region_map x {len(codes)}']:8.2f} s")
        (tmp / "out" / "manifest.json").write_text(json.dumps({"millesime": 2023}), encoding="utf-8")
        _timed("portal: build_portal", results, portal.build_portal, tmp / "out")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"table": source, "seconds": results}, indent=2, ensure_ascii=False) + "\n"
    )
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
