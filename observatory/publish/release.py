"""Publishing a région partition so that a failed build leaves the previous publication in place.

The partition's panorama, plaquettes, workbooks and CSV files are built into a staging folder inside the
vintage folder (``.staging-regions.<host>-<pid>.<random>.tmp``: hidden from the portal, swept by
:func:`observatory.files.sweep_stale` when its writer was killed), laid out like the vintage folder.
The layout check then reads the staged PDFs against the published indicator table; only when it passes
is each file moved into place, one atomic rename per file (same file system). A failed check raises
:class:`~observatory.errors.PublicationError` naming the problems, and nothing in the vintage folder has
changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from observatory import config, pools
from observatory.errors import PublicationError
from observatory.files import writer_tag
from observatory.publish import documents, layout_check, model

# The régions' publications and the EPCI portraits are built by :func:`observatory.config.workers` processes
# (``OBSERVATORY_WORKERS``), each holding the indicator table and one document at a time: well under 1 GB.


@dataclass
class Release:
    """What a partition published: ``written`` as :func:`documents.build_all` returns it (final paths)."""

    written: dict
    report: layout_check.LayoutReport
    moved: list[Path] = field(default_factory=list)  # every file put in place, final paths


def final_paths(paths, staging: Path, vintage: Path) -> list[Path]:
    return [vintage / Path(p).relative_to(staging) for p in paths]


def publish_staged(
    vintage: Path, label: str, build, check
) -> tuple[object, layout_check.LayoutReport, Path, list[Path]]:
    """Build into a staging folder laid out like ``vintage``, check it, then move each file into place.

    ``build(staging)`` writes the files and returns what it wrote; ``check(staging)`` returns a
    :class:`~layout_check.LayoutReport`. A failed check raises :class:`PublicationError` (``label`` names
    what failed) and moves nothing. Returns what ``build`` returned, the report, the staging path (the
    files' old prefix, for :func:`final_paths`) and the final paths of the files moved into place.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".staging-regions.{writer_tag()}.", suffix=".tmp", dir=vintage))
    try:
        written = build(staging)
        report = check(staging)
        if not report.ok:
            raise PublicationError(
                f"layout check failed for {label}; the previous publication is kept:\n"
                + "\n".join(report.problems)
            )
        moved = []
        for src in sorted(p for p in staging.rglob("*") if p.is_file()):
            dest = vintage / src.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
            moved.append(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.checked = final_paths(report.checked, staging, vintage)
    return written, report, staging, moved


def publish_regions(
    output_vintage_dir: str | Path, regions: list[str], table: model.IndicatorTable | None = None
) -> Release:
    """Build, check and publish the panoramas and plaquettes of ``regions`` (one partition).

    ``table``: the vintage's published indicator table when the caller already read it (one read for many
    régions published one after the other). Raises :class:`PublicationError` (and publishes nothing) when
    the layout check finds a problem.
    """
    vintage = Path(output_vintage_dir)
    table = table or model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    written, report, staging, moved = publish_staged(
        vintage,
        f"région(s) {', '.join(regions)}",
        lambda st: documents.build_all(vintage, regions=regions, out_dir=st, table=table),
        lambda st: layout_check.check_vintage(vintage, regions=regions, pdf_root=st, table=table),
    )
    final = {
        key: {code: final_paths(paths, staging, vintage) for code, paths in written[key].items()}
        for key in ("regions", "departements")
    }
    final["egalite"] = final_paths(written["egalite"], staging, vintage)
    return Release(final, report, moved)


_TABLE: model.IndicatorTable | None = None  # a worker's indicator table, read once per process


def _read_table(vintage: Path) -> None:
    global _TABLE
    _TABLE = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")


def _publish_one(vintage: Path, region: str) -> Release:
    return publish_regions(vintage, [region], table=_TABLE)


def publish_each_region(
    output_vintage_dir: str | Path, regions: list[str], workers: int | None = None
) -> list[Release]:
    """:func:`publish_regions` for each of ``regions`` (one release each, in their order), in ``workers``
    (default :func:`observatory.config.workers`) fresh processes (:func:`observatory.pools.spawn_pool`); each
    process reads the indicator table once. A région whose check fails raises its :class:`PublicationError`; the
    régions already published stay published (each is atomic on its own)."""
    vintage = Path(output_vintage_dir)
    n = max(1, min(config.workers() if workers is None else workers, len(regions)))
    if n == 1:
        table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
        return [publish_regions(vintage, [region], table=table) for region in regions]
    with pools.spawn_pool(n, initializer=_read_table, initargs=(vintage,)) as pool:
        return list(pool.map(_publish_one, [vintage] * len(regions), regions))
