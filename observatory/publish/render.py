"""Writing a :class:`~observatory.publish.model.Document` three ways from one assembly, so the PDF, the
workbook and the CSV files cannot disagree:

- the PDF: figures formatted in French (:mod:`~observatory.publish.fmt`) into a JSON data file
  (:func:`document_json`) read by a typst template of ``templates/`` (no value is ever formatted into typst
  source), compiled by :mod:`~observatory.publish.typst_pdf` with warnings fatal;
- the XLSX (:mod:`~observatory.publish.xlsx`): one sheet per figure, numbers as numbers (shares as fractions
  with a ``%`` format), ``s`` for secret cells;
- the CSV (:func:`write_csv`): one file per figure under ``donnees/<territory>/``, ``;``-separated with ``,``
  decimal marks and a UTF-8 BOM (what French Excel opens directly), shares in percent, ``s`` for secret.
"""

from __future__ import annotations

import csv
import importlib
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from observatory.errors import PublicationError
from observatory.files import atomic_path
from observatory.publish import xlsx
from observatory.publish.model import (
    NOTE_SECRET,
    PCT_KINDS,
    SOURCE,
    Cell,
    Document,
    Figure,
    _csv_number,
    export_value,
    run_date,
)
from observatory.publish.typst_pdf import compile_pdf


# --------------------------------------------------------------------------------------------- writers
def write_csv(fig: Figure, path: Path) -> Path:
    """One figure's table as CSV: ``;``, ``,`` decimals, UTF-8 BOM, shares in percent, ``s`` if secret."""
    header = [
        c if i == 0 or "%" in c or not _is_pct_col(fig, i) else f"{c} (%)" for i, c in enumerate(fig.columns)
    ]
    header[0] = header[0] or "Indicateur"
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f, delimiter=";", lineterminator="\r\n")
            w.writerow(header)
            for r in fig.rows:
                w.writerow([_csv_number(export_value(c, 100.0)) for c in r])
        tmp.chmod(0o644)
    return path


def _is_pct_col(fig: Figure, i: int) -> bool:
    kinds = {r[i].kind for r in fig.rows if isinstance(r[i], Cell)}
    return bool(kinds) and kinds <= PCT_KINDS


def _figure_json(fig: Figure, chart_path: str | None, map_info: dict | None) -> dict:
    if (chart_path or (map_info or {}).get("path") or fig.bars) and not fig.alt:
        raise PublicationError(f"figure {fig.id!r}: a chart or map without an alternative text")
    return {
        "id": fig.id,
        "titre": fig.titre,
        "unite": fig.unite,
        "champ": fig.champ,
        "source": SOURCE,
        "lecture": fig.lecture,
        "note": fig.note,
        "secret": NOTE_SECRET if fig.has_secret else "",
        "chart": chart_path,
        "bars": fig.bars,
        "map": map_info,
        "alt": fig.alt,
        "table": {
            "columns": fig.columns,
            "rows": [[c.text() if isinstance(c, Cell) else str(c) for c in r] for r in fig.rows],
            "bold": sorted(fig.bold_rows),
        }
        if fig.show_table
        else None,
    }


def _map(doc: Document, table_df: pd.DataFrame, build: Path) -> dict:
    """The département map of a région, drawn by ``maps.region_map`` when that module provides it."""
    try:
        maps = importlib.import_module("observatory.publish.maps")
    except ImportError:
        maps = None
    region_map = getattr(maps, "region_map", None)
    if region_map is None:
        return {
            "path": None,
            "message": "Carte des départements non disponible : le module de cartographie "
            "(observatory.publish.maps.region_map) est absent.",
        }
    out = build / "carte.svg"
    try:
        res = region_map(table_df, doc.region_code, out)
    except Exception as exc:  # noqa: BLE001 — a failing map must not block the panorama; the slot says why
        return {"path": None, "message": f"Carte des départements non disponible ({type(exc).__name__})."}
    res = Path(res) if isinstance(res, (str, Path)) else out
    if not res.exists():
        return {"path": None, "message": "Carte des départements non disponible."}
    if res.parent != build:
        shutil.copy(res, build / res.name)
    return {"path": res.name, "message": ""}


def document_json(doc: Document, build: Path, table_df: pd.DataFrame | None = None) -> dict:
    """The JSON data the typst template reads; draws the charts (and the map) into ``build``."""
    (build / "charts").mkdir(parents=True, exist_ok=True)
    sections = []
    for s in doc.sections:
        figs = []
        for f in s.figures:
            chart_rel = None
            if f.chart is not None:
                chart_rel = f"charts/{f.id}.svg"
                f.chart(build / chart_rel)
            map_info = _map(doc, table_df, build) if f.map_slot and table_df is not None else None
            if f.map_slot and map_info is None:
                map_info = {"path": None, "message": "Carte des départements non disponible."}
            figs.append(_figure_json(f, chart_rel, map_info))
        sections.append(
            {
                "titre": s.titre,
                "intro": s.intro,
                "kpis": [{"valeur": c.text(), "libelle": lbl} for c, lbl in s.kpis],
                "figures": figs,
                "metadata": [{"cle": k, "valeur": v} for k, v in s.metadata],
            }
        )
    return {
        "doc": {
            "kind": doc.kind,
            "titre": doc.titre,
            "sous_titre": doc.sous_titre,
            "millesime": str(doc.millesime),
            "date": run_date(doc.manifest),
            "perimetre": str(doc.manifest.get("perimetre_version", "")),
            "source": SOURCE,
        },
        "sections": sections,
    }


def write_document(
    doc: Document, out_dir: Path, table_df: pd.DataFrame | None = None, csv_dir: Path | None = None
) -> list[Path]:
    """Write a document's PDF and XLSX (and, with ``csv_dir``, one CSV per figure); return the paths."""
    sub = {"panorama": "panoramas", "plaquette": "panoramas", "egalite": "egalite"}[doc.kind]
    dest = Path(out_dir) / sub / f"{doc.slug}.pdf"
    written = []
    with tempfile.TemporaryDirectory(prefix="observatoire-typst-") as tmpdir:
        build = Path(tmpdir)
        data = document_json(doc, build, table_df)
        compile_pdf(f"{doc.kind}.typ", data, build, dest)
    written.append(dest)
    written.append(xlsx.write_workbook(doc, dest.with_suffix(".xlsx"), csv_dir=csv_dir))
    if csv_dir is not None:
        for s in doc.sections:
            for f in s.figures:
                written.append(write_csv(f, Path(csv_dir) / f"{f.id}.csv"))
    return written
