"""Shared fixtures: one end-to-end run of the whole pipeline on generated sample data, reused by the
tests that look at real outputs (documents, portal, audit, notebooks)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MILLESIME = 2023
# The end-to-end fraction: "sample" is 0.02; OBSERVATORY_E2E_FRACTION can make it smaller for a quick local run.
E2E_FRACTION = float(os.environ.get("OBSERVATORY_E2E_FRACTION", "0.02"))


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, except in CI (``OBSERVATORY_REQUIRE_ALL=1``) where it fails."""
    if condition:
        return
    if os.environ.get("OBSERVATORY_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@dataclass
class Published:
    """Where the end-to-end run read and wrote."""

    root: Path
    data_dir: Path
    output_dir: Path
    warehouse: Path
    env: dict
    log: str

    @property
    def vintage(self) -> Path:
        return self.output_dir / str(MILLESIME)

    @property
    def raw(self) -> Path:
        return self.data_dir / str(MILLESIME)


def observatory_env(root: Path) -> dict:
    env = dict(os.environ)
    env.update(
        OBSERVATORY_DATA_DIR=str(root / "data_raw"),
        OBSERVATORY_OUTPUT_DIR=str(root / "output"),
        OBSERVATORY_WAREHOUSE=str(root / "warehouse" / "observatory.duckdb"),
        OBSERVATORY_CACHE_DIR=str(ROOT / "warehouse" / "cache"),
        OBSERVATORY_MILLESIME=str(MILLESIME),
    )
    env.pop("DAGSTER_HOME", None)
    return env


def run_cli(args: list[str], env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``observatory ARGS`` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "observatory.cli", *args],
        check=False,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Published:
    """Generate the sample extracts and run the whole pipeline once (CLI, in process Dagster)."""
    root = tmp_path_factory.mktemp("e2e")
    env = observatory_env(root)
    gen = run_cli(
        ["generate", "--fraction", str(E2E_FRACTION), "--millesime", str(MILLESIME), "--seed", "42"], env
    )
    assert gen.returncode == 0, gen.stderr
    run = run_cli(["run", "--millesime", str(MILLESIME)], env)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr[-5000:]}"
    return Published(
        root=root,
        data_dir=root / "data_raw",
        output_dir=root / "output",
        warehouse=root / "warehouse" / "observatory.duckdb",
        env=env,
        log=run.stdout,
    )
