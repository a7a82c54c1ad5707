"""CPU seconds of the panoramas and plaquettes of some régions, by rendering stage.

    python bench/bench_render.py OUTPUT_VINTAGE_DIR 53,84

Builds the régions' panoramas and their départements' plaquettes into a temporary folder (as one région
partition does), then runs their layout check, with timers (CPU time of the process, all threads) around
the chart functions, the région map, the typst call, the workbook and CSV writers. CPU time, not wall: on
the shared machine the load inflates wall times several-fold.
"""

from __future__ import annotations

import collections
import functools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from observatory.publish import charts, documents, layout_check, maps, model, render, xlsx

CPU: collections.Counter = collections.Counter()
CALLS: collections.Counter = collections.Counter()


def _timed(module, name: str, stage: str) -> None:
    fn = getattr(module, name)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            CPU[stage] += time.process_time() - t0
            CALLS[stage] += 1

    setattr(module, name, wrapper)


def main() -> None:
    vintage, regions = Path(sys.argv[1]), sys.argv[2].split(",")
    for name in ("barh", "grouped_barh", "stacked_shares", "pyramid"):
        _timed(charts, name, "matplotlib charts")
    _timed(maps, "region_map", "région map")
    _timed(render, "compile_pdf", "typst")  # the names the renderer calls (render.write_document)
    _timed(xlsx, "write_workbook", "xlsx")
    _timed(render, "write_csv", "csv")
    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        t0 = time.process_time()
        res = documents.build_all(vintage, regions=regions, out_dir=tmp, table=table)
        t1 = time.process_time()
        report = layout_check.check_vintage(vintage, regions=regions, pdf_root=tmp, table=table)
        t2 = time.process_time()
    n = len(res["regions"]) + len(res["departements"])
    print(
        f"{n} documents ({len(res['regions'])} panoramas): build {t1 - t0:.1f} s CPU, layout check "
        f"{t2 - t1:.1f} s CPU, {len(report.problems)} problem(s)"
    )
    for stage, s in CPU.items():
        print(f"  {stage}: {s:.2f} s in {CALLS[stage]} calls")
    print(f"  the rest (document assembly, JSON, files): {t1 - t0 - sum(CPU.values()):.2f} s")


if __name__ == "__main__":
    main()
