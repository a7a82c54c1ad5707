"""Publish the secrecy-checked indicator table and the run manifest.

``publish_indicators`` writes ``output/<millesime>/tables/indicateurs.parquet`` and ``.csv`` (the columns of
``products.md`` §2, sorted on every key column, ``valeur`` empty when secret; the CSV is a machine file:
UTF-8, comma-separated, ``.`` decimals) and ``output/<millesime>/manifest.json``. Every file is written under
a temporary name and renamed into place. A rerun on the same inputs gives byte-identical table files; the
manifest's ``created_at`` is the only field that changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from observatory.config import Settings
from observatory.errors import PublicationError
from observatory.warehouse import atomic_path, copy_to_parquet, run_sql

TABLE = "indicateurs"


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_version() -> dict:
    """Package version and, when the code is a git checkout, the commit."""
    try:
        version = metadata.version("ess-observatory")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"package": version, "git_commit": commit}


def publish_indicators(
    con,
    settings: Settings,
    *,
    inputs: list[Path] | tuple = (),
    row_counts: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write the indicator table (Parquet + CSV) and the manifest; return the Parquet path.

    Requires ``ind.indicateurs`` (see :func:`observatory.indicators.build_indicators`). ``inputs`` are the
    extract files (listed with size and SHA-256), ``row_counts`` the in / out / quarantined counts of the
    run, ``extra`` further manifest sections.
    """
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ind' AND table_name = 'masque'"
    ).fetchone()[0]:
        raise PublicationError("no secrecy mask (ind.masque): run build_indicators first")
    run_sql(con, "indicators/publication.sql")
    tables = settings.vintage_output / "tables"
    parquet = tables / f"{TABLE}.parquet"
    csv = tables / f"{TABLE}.csv"
    rows = copy_to_parquet(con, "SELECT * FROM ind.publication", parquet)
    with atomic_path(csv) as tmp:
        con.execute(f"COPY ind.publication TO '{tmp.as_posix()}' (FORMAT csv, HEADER, DELIMITER ',')")
    sections = {
        "millesime": int(settings.millesime),
        "perimetre_version": settings.perimetre,
        "code_version": code_version(),
        "inputs": [
            {"path": str(p), "size": Path(p).stat().st_size, "sha256": sha256(p)}
            for p in sorted(map(Path, inputs))
        ],
        "row_counts": {**(row_counts or {}), f"{TABLE}_out": rows},
        "tables": {
            TABLE: {
                "parquet": str(parquet.relative_to(settings.vintage_output)),
                "csv": str(csv.relative_to(settings.vintage_output)),
                "rows": rows,
                "csv_sha256": sha256(csv),
            }
        },
        **(extra or {}),
    }
    update_manifest(settings, **sections)
    return parquet


def read_manifest(settings: Settings) -> dict:
    """The vintage's manifest (empty when none was written yet)."""
    path = settings.vintage_output / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def update_manifest(settings: Settings, **sections) -> Path:
    """Add or replace top-level sections of ``manifest.json`` atomically; stamps ``created_at``.

    Steps running at once (region partitions) serialise their updates on a lock file beside the manifest.
    """
    path = settings.vintage_output / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(".manifest.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = read_manifest(settings)
        manifest.update(sections)
        manifest["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        with atomic_path(path) as tmp:
            tmp.write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
            )
    return path
