"""The whole pipeline on other extracts than the sample: does every run publish, and how long does it take?

    .venv/bin/python bench/variants.py                                  # 0.01 × seeds 7 and 42, 0.03 × seed 3
    .venv/bin/python bench/variants.py --runs 0.005:11 0.02:5

The sample (``--fraction 0.02 --seed 42``) is what ``make run`` and the tests publish. Other fractions and
seeds hold other small cells, other size bands at 0, other EPCIs alone in their département: cases where the
protection may leave something the audit refuses, so the run fails and nothing is published (seen at
``0.01:42`` before ``observatory/secrecy/rounded.py``). Each run generates its extracts (kept) into
``--root``/``f<fraction>s<seed>/`` and runs ``observatory run`` from an empty warehouse and publication, as a
user would; the table printed gives each run's exit code, its seconds and the run's last line (its error when
it failed). Not a test: a few minutes per run (``bench/results.md`` for the figures).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DEFAULT_RUNS = ["0.01:7", "0.01:42", "0.03:3"]


def run_variant(root: Path, fraction: str, seed: str, millesime: str) -> tuple[int, float, str]:
    """Generate (if missing) and run the pipeline once; returns its exit code, seconds and last line."""
    folder = root / f"f{fraction}s{seed}"
    env = dict(
        os.environ,
        OBSERVATORY_DATA_DIR=str(folder / "data_raw"),
        OBSERVATORY_OUTPUT_DIR=str(folder / "output"),
        OBSERVATORY_WAREHOUSE=str(folder / "warehouse" / "observatory.duckdb"),
        OBSERVATORY_MILLESIME=millesime,
    )
    env.pop("DAGSTER_HOME", None)  # an ephemeral Dagster instance per run
    if not (folder / "data_raw" / millesime).is_dir():
        cmd = ["generate", "--fraction", fraction, "--millesime", millesime, "--seed", seed]
        subprocess.run([BIN / "observatory", *cmd], env=env, check=True, capture_output=True)
    for old in ("output", "warehouse"):
        shutil.rmtree(folder / old, ignore_errors=True)
    t0 = time.perf_counter()
    done = subprocess.run(
        [BIN / "observatory", "run", "--millesime", millesime],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    errors = [line for line in lines if "error" in line]
    return done.returncode, time.perf_counter() - t0, (errors or lines or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="FRACTION:SEED pairs")
    parser.add_argument("--root", type=Path, default=Path("/work/national-data/variants"))
    parser.add_argument("--millesime", default="2023")
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}")
    print(f"{'extracts':<14} {'rc':>3} {'s':>7}  last line")
    failed = 0
    for spec in args.runs:
        fraction, seed = spec.split(":")
        rc, seconds, last = run_variant(args.root, fraction, seed, args.millesime)
        failed += rc != 0
        print(f"{spec:<14} {rc:>3} {seconds:>7.1f}  {last}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}; {failed} of {len(args.runs)} runs failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
