"""Benchmark of the synthetic generator: wall time, rows per second and peak RSS.

Usage::

    .venv/bin/python bench/bench_generate.py                 # fraction 0.01
    .venv/bin/python bench/bench_generate.py --france        # also fraction 1.0 (≈ 25 M postes, a few minutes)
    .venv/bin/python bench/bench_generate.py --fraction 0.1

Each fraction runs in a subprocess; the peak RSS is ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, the
largest child so far (run fractions in increasing order).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = """
import json, sys, time
from pathlib import Path
from observatory.synth import generate
t0 = time.perf_counter()
rows = generate(Path(sys.argv[1]), millesime=2023, fraction=float(sys.argv[2]), seed=42, dirty_rate=0.002)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": rows}))
"""


def run(fraction: float, out: Path) -> dict:
    """Generate at ``fraction`` into ``out`` in a child process; return time, rows and the child's peak RSS."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _CHILD, str(out), str(fraction)], check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(res.stdout.strip().splitlines()[-1])
    result.update(fraction=fraction, wall_seconds=wall, peak_rss_mib=peak_kib / 1024,
                  bytes_written=sum(p.stat().st_size for p in out.iterdir()))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fraction", type=float, action="append", help="fraction(s) to run (default 0.01)")
    p.add_argument("--france", action="store_true", help="also run the national scale (fraction 1.0)")
    p.add_argument("--keep", default=None, help="write into this folder instead of a temporary one")
    args = p.parse_args(argv)
    fractions = args.fraction or [0.01]
    if args.france:
        fractions.append(1.0)
    for f in fractions:
        with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
            out = Path(args.keep or tmp) / f"f{f:g}"
            r = run(f, out)
        total = sum(r["rows"].values())
        print(f"fraction {f:g}: {r['seconds']:.1f} s in generate ({r['wall_seconds']:.1f} s wall), "
              f"{total:,} rows, {total / r['seconds']:,.0f} rows/s, peak RSS {r['peak_rss_mib']:,.0f} MiB, "
              f"{r['bytes_written'] / 2**20:,.0f} MiB written")
        for name, rows in r["rows"].items():
            print(f"  {name}: {rows:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
