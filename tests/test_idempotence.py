"""Idempotence: two ``observatory run`` on the same extracts (the session's run, then a run on a copy of its
warehouse and output folder) publish the same bytes: the indicator table (CSV and Parquet), the same secrecy mask, and the same baromètre table.

The manifest changes only in ``created_at`` and the ``run`` report (timings).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from observatory.publication import sha256
from tests.conftest import MILLESIME, run_cli

# A long system test: left out of `make test`, run by `make test-system` and by CI after it.
pytestmark = pytest.mark.system

KEYS = ["millesime", "niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs", "indicateur"]


@dataclass
class Outcome:
    """What one run published."""

    csv_sha: str
    parquet_sha: str
    table: object  # pyarrow.Table of indicateurs.parquet
    barometre: dict  # "<semestre>/indicateurs.csv" → sha256
    manifest: dict


def _outcome(vintage: Path) -> Outcome:
    tables = vintage / "tables"
    barometre = {
        str(p.relative_to(vintage / "barometre")): sha256(p)
        for p in sorted((vintage / "barometre").glob("*/indicateurs.csv"))
    }
    return Outcome(
        csv_sha=sha256(tables / "indicateurs.csv"),
        parquet_sha=sha256(tables / "indicateurs.parquet"),
        table=pq.read_table(tables / "indicateurs.parquet"),
        barometre=barometre,
        manifest=json.loads((vintage / "manifest.json").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def two_runs(published, tmp_path_factory) -> tuple[Outcome, Outcome]:
    """The session's run, and a second run on a copy of its warehouse and publication over the same extracts
    (publishing one région only: the annual graph and the baromètre are what is compared)."""
    root = tmp_path_factory.mktemp("idempotence")
    shutil.copytree(published.output_dir, root / "output", symlinks=True)
    shutil.copytree(published.warehouse.parent, root / "warehouse", symlinks=True)
    first = _outcome(published.vintage)
    env = {
        **published.env,
        "OBSERVATORY_OUTPUT_DIR": str(root / "output"),
        "OBSERVATORY_WAREHOUSE": str(root / "warehouse" / "observatory.duckdb"),
        "OBSERVATORY_REGIONS": "53",
    }
    run = run_cli(["run", "--millesime", str(MILLESIME)], env)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr[-5000:]}"
    return first, _outcome(root / "output" / str(MILLESIME))


def test_indicator_csv_is_byte_identical(two_runs):
    first, second = two_runs
    assert first.csv_sha == second.csv_sha
    # ... and it is the file each manifest describes.
    assert first.manifest["tables"]["indicateurs"]["csv_sha256"] == first.csv_sha
    assert second.manifest["tables"]["indicateurs"]["csv_sha256"] == second.csv_sha


def test_secrecy_mask_is_identical(two_runs):
    first, second = two_runs
    a = first.table.select([*KEYS, "statut"]).to_pandas()
    b = second.table.select([*KEYS, "statut"]).to_pandas()
    assert len(a) == len(b) == first.manifest["tables"]["indicateurs"]["rows"]
    assert a.equals(b)
    counts = a.statut.value_counts().to_dict()
    # The mask is not trivial: published cells, primary and secondary secret all occur.
    assert all(counts.get(s, 0) > 0 for s in ("publie", "secret_primaire", "secret_secondaire")), counts
    assert counts == b.statut.value_counts().to_dict()


def test_indicator_table_is_identical(two_runs):
    first, second = two_runs
    assert first.table.equals(second.table)
    assert first.parquet_sha == second.parquet_sha  # publication.py promises byte-identical table files


def test_barometre_csv_is_byte_identical(two_runs):
    first, second = two_runs
    assert first.barometre, "no baromètre table was published"
    assert first.barometre == second.barometre


def test_manifest_changes_only_in_date_and_run_report(two_runs):
    first, second = two_runs
    volatile = {"created_at", "run"}
    assert {k: v for k, v in first.manifest.items() if k not in volatile} == {
        k: v for k, v in second.manifest.items() if k not in volatile
    }
