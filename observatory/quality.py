"""The data-quality report: ``output/<millesime>/qualite/rapport.html`` (public: counts only) and the row-level
quarantine ``<warehouse folder>/qualite/<millesime>/rejets.parquet`` (private: for the analysts who run the
pipeline, never published).

What it says (in French, for the analysts of an observatory):

- per extract file, the rows read, loaded, rejected (at reading, or when attaching them to the perimeter)
  and kept-but-flagged, with rates, and the share rejected at reading against the run's threshold
  (``Settings.quarantine_max``);
- the quarantine rows (``staging.quarantaine``) by extract, motif and action, each motif explained;
- the classification motifs of the legal units (``ess.unites_legales.motif``: ``cj_inconnue``,
  ``cj_absente``, ``nomenclature_non_rev2``…) and the unknown legal-category codes;
- the establishments outside every territory (abroad, collectivités d'outre-mer, no commune, commune
  unknown to the COG);
No row of an extract is on the public page (no SIRET, line number or value): it shows counts by extract and
reason. ``rejets.parquet``, beside the warehouse, holds every quarantine row (``extrait, fichier, ligne, colonne, valeur, motif, action,
libelle_motif``). The aggregations are the SQL files of ``sql/quality/``; the labels and explanations of the
motifs are in ``sql/quality/libelles.sql``. The page is rendered by ``publish/templates/qualite.html.j2``
with autoescape on, and is self-contained (inline CSS, no script, no external resource).

The page is written into a temporary folder that replaces ``qualite/`` in one step
(:func:`observatory.files.atomic_dir`), the rejects file atomically beside the warehouse: a failure at any
point leaves the previous report whole (and ``observatory run`` publishes the page only with the rest of the
run, see :func:`observatory.publication.stage_publication`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import duckdb

from observatory.config import Settings
from observatory.errors import ObservatoryError
from observatory.files import atomic_dir
from observatory.ingest import EXTRACTS, IngestReport
from observatory.perimeter import loaded_version
from observatory.publish import fmt
from observatory.warehouse import copy_to_parquet, run_sql

REPORT_DIR = "qualite"
REPORT_FILE = "rapport.html"
REJECTS_FILE = "rejets.parquet"
TEMPLATE = "qualite.html.j2"
TEMPLATES = Path(__file__).resolve().parent / "publish" / "templates"
CJ_LIMIT = 50
"""Unknown legal-category codes listed, most frequent first."""
ACTIONS = {"rejete": "Rejetée", "conserve": "Conservée, signalée"}

_TEMPORARY = (
    ("VIEW", "_qualite_charges"),
    ("TABLE", "_qualite_rejets"),
    ("TABLE", "_qualite_motifs"),
    ("TABLE", "_qualite_extraits"),
)


def build_quality_report(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, ingest: IngestReport | None = None
) -> dict[str, Any]:
    """Write ``<settings.vintage_output>/qualite/rapport.html`` and :func:`rejects_path` from the warehouse.

    Needs ``staging.quarantaine``; the staging tables, ``ess.unites_legales``, ``ess.etablissements`` are
    used when present (a missing ``ess`` table makes its section say "non disponible"). ``ingest``, the
    report of :func:`observatory.ingest.ingest_vintage` of the same run, adds how each file was read
    (format, encoding, separator, missing optional columns); the counts come from the warehouse.

    Returns ``rapport`` and ``rejets`` (paths), ``millesime``, ``perimetre_version``, ``quarantaine``
    (rows in ``rejets.parquet``), ``lignes_lues``, ``lignes_rejetees``, ``lignes_signalees``,
    ``taux_rejet_lecture``, ``par_motif`` ({motif: quarantine rows}), ``classification`` ({motif: legal
    units}, ``None`` without ``ess.unites_legales``) and ``hors_territoire`` ({category: establishments},
    ``None`` without the establishment tables).

    Raises :class:`ObservatoryError` when ``staging.quarantaine`` is missing (ingestion has not run).
    """
    if not _table_exists(con, "staging", "quarantaine"):
        raise ObservatoryError(
            "staging.quarantaine is missing: run the ingestion (observatory.ingest.ingest_vintage) first"
        )
    dest = Path(settings.vintage_output) / REPORT_DIR
    try:
        data = collect_quality(con, settings, ingest=ingest)
        rejects = rejects_path(settings)
        n_rows = copy_to_parquet(con, "SELECT * FROM _qualite_rejets", rejects)
        if n_rows != data["totaux"]["quarantaine"]:
            raise ObservatoryError(f"{rejects}: {n_rows} rows written, {data['totaux']['quarantaine']} expected")
        with atomic_dir(dest) as tmp:
            tmp.chmod(0o755)
            (tmp / REPORT_FILE).write_text(render_report(data), encoding="utf-8")
            (tmp / REPORT_FILE).chmod(0o644)
    finally:
        _drop_temporary(con)
    totaux = data["totaux"]
    return {
        "rapport": dest / REPORT_FILE,
        "rejets": rejects,
        "millesime": data["millesime"],
        "perimetre_version": data["perimetre"],
        "quarantaine": totaux["quarantaine"],
        "lignes_lues": totaux["lignes_lues"],
        "lignes_rejetees": totaux["lignes_rejetees"],
        "lignes_signalees": totaux["lignes_signalees"],
        "taux_rejet_lecture": totaux["taux_rejet_lecture"],
        "par_motif": _sum_by(data["motifs"], "motif", "signalements"),
        "classification": (
            None
            if data["classification"] is None
            else {c["motif"]: c["unites"] for c in data["classification"]}
        ),
        "hors_territoire": (
            None
            if data["hors_territoire"] is None
            else {h["categorie"]: h["etablissements"] for h in data["hors_territoire"]}
        ),
    }


def collect_quality(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, ingest: IngestReport | None = None
) -> dict[str, Any]:
    """Everything the page shows, from the ``sql/quality/`` files (plain Python values).

    Leaves the temporary table ``_qualite_rejets`` (every quarantine row with its label) for the caller to
    write; :func:`build_quality_report` drops it.
    """
    _run(con, "quality/libelles.sql")
    _create_loaded_lines(con)
    _run(con, "quality/rejets.sql")
    extraits = _rows(con, "quality/extraits.sql")
    for row in extraits:
        row["lecture"] = _reading(ingest, row["extrait"], row["fichier"]) if ingest is not None else ""
    motifs = _rows(con, "quality/motifs.sql")
    classification = cj_inconnues = hors_territoire = None
    if _table_exists(con, "ess", "unites_legales"):
        classification = _rows(con, "quality/classification.sql")
        cj_inconnues = _rows(con, "quality/cj_inconnues.sql", {"limite": CJ_LIMIT})
    if _table_exists(con, "ess", "etablissements") and _table_exists(con, "staging", "etablissements"):
        hors_territoire = _rows(con, "quality/hors_territoire.sql")
    n_quarantaine = con.execute("SELECT count(*) FROM _qualite_rejets").fetchall()[0][0]

    lues = sum(e["lignes_lues"] for e in extraits)
    rejetees = sum(e["lignes_rejetees"] for e in extraits)
    rejetees_lecture = sum(e["rejetees_lecture"] for e in extraits)
    signalees = sum(e["lignes_signalees"] for e in extraits)
    taux_lecture = rejetees_lecture / lues if lues else 0.0
    totaux = {
        "lignes_lues": lues,
        "lignes_rejetees": rejetees,
        "lignes_signalees": signalees,
        "rejetees_lecture": rejetees_lecture,
        "quarantaine": n_quarantaine,
        "taux_rejet": rejetees / lues if lues else None,
        "taux_signalement": signalees / lues if lues else None,
        "taux_rejet_lecture": taux_lecture,
        "seuil_depasse": taux_lecture > settings.quarantine_max,
    }
    return {
        "millesime": settings.millesime,
        "perimetre": perimeter_version(con, settings),
        "seuil": settings.quarantine_max,
        "totaux": totaux,
        "extraits": extraits,
        "motifs": motifs,
        "classification": classification,
        "cj_inconnues": cj_inconnues,
        "cj_limite": CJ_LIMIT,
        "hors_territoire": hors_territoire,
        "actions": ACTIONS,
    }


def rejects_path(settings: Settings) -> Path:
    """The row-level quarantine of a vintage, beside the warehouse (never under ``output/``)."""
    return Path(settings.warehouse).parent / REPORT_DIR / str(settings.millesime) / REJECTS_FILE


def render_report(data: dict[str, Any]) -> str:
    """The HTML page for :func:`collect_quality`'s ``data`` (autoescaped, French number format)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["nombre"] = fmt.nombre
    env.filters["pourcent"] = fmt.pourcent
    return env.get_template(TEMPLATE).render(**data)


def perimeter_version(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The perimeter stamp of the run: that of the loaded ``ref`` tables (with its switches), else that of
    ``ess.unites_legales``, else ``settings.perimetre``."""
    loaded = loaded_version(con)
    if loaded:
        return loaded
    if _table_exists(con, "ess", "unites_legales"):
        rows = con.execute(
            "SELECT DISTINCT perimetre_version FROM ess.unites_legales WHERE perimetre_version IS NOT NULL"
        ).fetchall()
        if len(rows) == 1:
            return rows[0][0]
    return settings.perimetre


# ------------------------------------------------------------------------------------------------- helpers


def _create_loaded_lines(con: duckdb.DuckDBPyConnection) -> None:
    """The temporary view ``_qualite_charges(extrait, fichier, ligne)``: the lines of the staging tables that
    exist. Table names come from :data:`observatory.ingest.EXTRACTS`, never from the data."""
    parts = []
    for kind in EXTRACTS:
        if _table_exists(con, "staging", kind) and {"_fichier", "_ligne"} <= _columns(con, "staging", kind):
            parts.append(
                f"SELECT '{kind}' AS extrait, CAST(_fichier AS VARCHAR) AS fichier, "
                f"CAST(_ligne AS BIGINT) AS ligne FROM staging.{kind}"
            )
    if not parts:
        parts.append(
            "SELECT CAST(NULL AS VARCHAR) AS extrait, CAST(NULL AS VARCHAR) AS fichier, "
            "CAST(NULL AS BIGINT) AS ligne WHERE false"
        )
    con.execute("CREATE OR REPLACE TEMP VIEW _qualite_charges AS " + " UNION ALL ".join(parts))


def _reading(ingest: IngestReport, kind: str, file: str) -> str:
    """How ``file`` was read, from the ingestion report: ``csv, cp1252, séparateur « ; », gzip``."""
    rep = ingest.extracts.get(kind)
    if rep is None or rep.file != file:
        return ""
    parts = [rep.format]
    if rep.encoding:
        parts.append(rep.encoding)
    if rep.separator:
        parts.append(f"séparateur « {rep.separator} »")
    if rep.compression:
        parts.append(rep.compression)
    text = ", ".join(parts)
    if rep.missing_optional:
        text += " ; colonnes facultatives absentes : " + ", ".join(rep.missing_optional)
    return text


def _run(con: duckdb.DuckDBPyConnection, relpath: str, params: dict | None = None) -> None:
    result = run_sql(con, relpath, params)
    if result is not None:
        result.fetchall()


def _rows(con: duckdb.DuckDBPyConnection, relpath: str, params: dict | None = None) -> list[dict]:
    """The rows of the last statement of ``sql/<relpath>`` as dicts (fetched in full)."""
    result = run_sql(con, relpath, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _sum_by(rows: list[dict], key: str, value: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[row[key]] = out.get(row[key], 0) + row[value]
    return out


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $s AND table_name = $t",
            {"s": schema, "t": table},
        ).fetchall()[0][0]
        > 0
    )


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $s AND table_name = $t",
        {"s": schema, "t": table},
    ).fetchall()
    return {r[0] for r in rows}


def _drop_temporary(con: duckdb.DuckDBPyConnection) -> None:
    for kind, name in _TEMPORARY:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DROP {kind} IF EXISTS {name}")
