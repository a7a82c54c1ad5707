"""The audit as a whole: on the warehouse before publication, or on the published table."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import duckdb
import pandas as pd

from observatory import beside
from observatory.audit.intervals import narrow_intervals, primary_headcounts, protection_level
from observatory.audit.joint import check_joint, check_joint_rounded, family_relations, rounded_relations
from observatory.audit.microdata import ETABS_COLUMNS, recompute_cells
from observatory.audit.products import audit_barometre_annual
from observatory.audit.report import AuditReport
from observatory.audit.rounding import ROUNDED, check_rounded
from observatory.audit.tables import (
    _lp_checks,
    _lp_checks_bands,
    _lp_checks_champs,
    _primary_violations,
    _zero_headcounts,
    check_champ_intervals,
    two_d_tables,
)
from observatory.audit.territories import _plain, check_territories, geography_of
from observatory.errors import SecrecyError
from observatory.reference.geography import Geography


def audit(
    published: pd.DataFrame,
    postes,
    etabs: pd.DataFrame,
    departements: pd.DataFrame,
    intervals: bool = True,
    joint_rounded: bool = False,
    cells: pd.DataFrame | None = None,
) -> AuditReport:
    """Audit a published indicator table against the microdata (see :mod:`observatory.audit`; ``postes``: the
    jobs, a DataFrame or a connection to the warehouse: :func:`recompute_cells`), the hidden
    primary headcounts' intervals against their protection levels included (:mod:`observatory.audit.intervals`;
    ``intervals=False`` leaves them out, for tests of the other checks). ``joint_rounded``: the ETP and the
    payroll bounded on their families at once too (:func:`~observatory.audit.joint.check_joint_rounded`; 45 s
    more on the sample, so left to ``observatory audit --joint-rounded``). ``cells``: the cells
    :func:`recompute_cells` makes of ``postes`` and ``etabs``, when the caller has them already (they are then
    not recomputed; nothing here writes into them)."""
    return _audit(published, postes, etabs, departements, intervals, joint_rounded, cells)[0]


def _audit(published, postes, etabs, departements, intervals, joint_rounded, cells) -> tuple:
    """:func:`audit`, and the recomputed cells it used."""
    report = AuditReport()
    started = []  # the territory relations, started as soon as their cells (none, famille) are made

    geography = geography_of(etabs)

    def territories_of(champ_cells: pd.DataFrame) -> None:
        started.append(_territories_beside(published, champ_cells, geography, intervals))

    if cells is None:
        cells = recompute_cells(postes, etabs, champ_cells=territories_of)
    else:
        territories_of(cells)  # their territory cells are taken out beside (`_plain`)
    (territories,) = started
    report.published_checked, report.violations = _primary_violations(published, cells)
    zero_keys = _zero_headcounts(cells)
    tables = list(two_d_tables(published, departements, zero_keys))
    _lp_checks(tables, report)
    if intervals:
        report.interval_checked, report.interval_narrow = narrow_intervals(tables, published, cells)
        rounded = list(two_d_tables(published, departements, indicateurs=tuple(ROUNDED)))
        check_rounded(rounded, published, cells, report)
    champs = _lp_checks_champs(published, cells, departements, report, zero_keys)
    if intervals:
        rounded_champs = check_champ_intervals(published, cells, departements, report, zero_keys)
    bands = _lp_checks_bands(published, departements, report, zero_keys)
    relations = family_relations(tables, champs, bands, published, cells, geography)
    check_joint(relations, report, _joint_levels(published, cells) if intervals else None)
    if intervals and joint_rounded:
        joint = rounded_relations(rounded, rounded_champs, published, cells, geography)
        check_joint_rounded(joint, published, cells, report)
    _add(report, territories.result())
    return report, cells


def _joint_levels(published: pd.DataFrame, cells: pd.DataFrame) -> dict:
    """The hidden primary headcounts under their global names in the joint systems
    (:mod:`observatory.audit.joint`), with their true value and protection level."""
    primary, truth = primary_headcounts(published, cells)
    return {
        ("effectif_31_12", *k): (truth[k][0], protection_level(*truth[k]))
        for k in primary
        if k in truth and truth[k][0] > 0
    }


#: Below this many published rows, the territory relations are checked in the caller's process: a second
#: process (≈ 2 s to start) pays only on a real publication (the sample's table has 517 280 rows).
BESIDE_MIN_ROWS = 100_000


def _territories_beside(published: pd.DataFrame, cells: pd.DataFrame, geography: Geography, intervals: bool):
    """The territory relations' checks (:func:`check_territories`), in a second process when the publication
    is large (:func:`observatory.beside.start`), so that they run while this process checks the 2-D tables.
    Returns an object whose ``result()`` is their report. They hold on cells without breakdown only: the
    other process receives those rows."""
    args = (_plain(published), _plain(cells), geography, intervals)
    return beside.start(_territory_report, *args, enabled=len(published) >= BESIDE_MIN_ROWS)


def _territory_report(published, cells, geography, intervals: bool) -> AuditReport:
    report = AuditReport()
    check_territories(published, cells, geography, report, intervals)
    return report


def _add(report: AuditReport, part: AuditReport) -> None:
    """``part``'s counts and findings added to ``report``'s (its flags, e.g. ``territory_blocking``, left)."""
    for f in fields(AuditReport):
        value = getattr(part, f.name)
        if isinstance(value, list):
            getattr(report, f.name).extend(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            setattr(report, f.name, getattr(report, f.name) + value)


def _microdata_audit(
    published: pd.DataFrame, con, intervals: bool = True, joint_rounded: bool = False, warehouse: Path | None = None
) -> AuditReport:
    """The audit of ``published`` against the microdata of ``con``. ``warehouse``: the path of the warehouse
    that ``con`` opened read-only, whose recomputed cells are then kept for the next audit of the same
    warehouse in this process (:func:`_warehouse_state`)."""
    etabs = con.execute(f"SELECT {', '.join(ETABS_COLUMNS)} FROM ess.etablissements_employeurs").df()
    departements = con.table("ref.departements").df()
    state = _warehouse_state(warehouse) if warehouse is not None else None
    kept = _RECOMPUTED.get(state) if state is not None else None
    # the jobs summed in the warehouse, unless this warehouse's cells were recomputed by an audit before
    report, cells = _audit(published, con, etabs, departements, intervals, joint_rounded, kept)
    if state is not None and state == _warehouse_state(warehouse):  # unchanged while it was read
        _RECOMPUTED.clear()
        _RECOMPUTED[state] = cells
    return report


#: The cells recomputed from the microdata by the last :func:`audit_publication` of this process, under the
#: state of its warehouse: auditing one publication after another against the same warehouse (a notebook
#: trying which cells may be published; the tests that plant disclosures) recomputes them once. One entry.
_RECOMPUTED: dict = {}


def _warehouse_state(path) -> tuple:
    """What changes when the warehouse's content may have: its path, and its file's and its write-ahead
    log's inode, size and modification time (the log's absence included)."""
    path = Path(path).resolve()
    state: list = [str(path)]
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
        except FileNotFoundError:
            state.append(None)
        else:
            state.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(state)


def audit_warehouse(con) -> AuditReport:
    """Audit the table about to be published (``ind.publication`` of the warehouse) before it is written.

    Same audit as :func:`audit_publication`; the pipeline runs it as a blocking check so that a table that
    fails it never reaches ``output/``.
    """
    # through Arrow, as `audit_publication` reads the Parquet file: the same frame (str columns), without the
    # Python strings of DuckDB's `.df()` (3.0 s against 0.6 s for the sample's 535 k rows)
    return _microdata_audit(con.table("ind.publication").to_arrow_table().to_pandas(), con)


def audit_publication(settings, intervals: bool = True, joint_rounded: bool = False) -> AuditReport:
    """Audit ``output/<millesime>/tables/indicateurs.parquet`` against the warehouse (opened read-only);
    ``intervals``, ``joint_rounded``: see :func:`audit`. The cells recomputed from the warehouse's microdata
    stay in memory for the next call on the same, unchanged warehouse (:data:`_RECOMPUTED`: one warehouse's,
    about 40 MB at the sample's scale); the pipeline's own audit (:func:`audit_warehouse`) keeps nothing."""
    table = settings.vintage_output / "tables" / "indicateurs.parquet"
    if not table.exists():
        raise SecrecyError(f"no published table to audit: {table}")
    published = pd.read_parquet(table)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        report = _microdata_audit(published, con, intervals, joint_rounded, warehouse=settings.warehouse)
        _across_products(published, con, settings, report)
        return report
    finally:
        con.close()


_CELL = ["niveau", "code", "champ", "famille", "secteur"]


def _across_products(published: pd.DataFrame, con, settings, report: AuditReport) -> None:
    """The published baromètres that hold the vintage's year-end quarter (``<millesime>-T4``) against the
    published annual table (:func:`audit_barometre_annual`), with the computed values of the warehouse
    (``ind.indicateurs`` and ``ind.barometre_cellules``, the baromètre last built). Nothing when there is no
    such baromètre, or the warehouse no longer holds that quarter's cells."""
    trimestre = f"{settings.millesime}-T4"
    folders = sorted((settings.vintage_output / "barometre").glob("*/indicateurs.parquet"))
    try:
        b_values = con.execute(
            "SELECT niveau, code, champ, famille, secteur, CAST(value AS DOUBLE) AS valeur_calculee"
            " FROM ind.barometre_cellules WHERE trimestre = ?",
            [trimestre],
        ).df()
        a_values = con.execute(
            "SELECT niveau, code, champ, famille, secteur, valeur_calculee FROM ind.indicateurs"
            " WHERE indicateur = 'effectif_31_12' AND tranche = 'toutes' AND sexe = 'tous' AND pcs = 'toutes'"
            " AND millesime = ?",
            [settings.millesime],
        ).df()
    except duckdb.CatalogException:
        return
    annual = published[
        (published.indicateur == "effectif_31_12")
        & published.niveau.isin(["france", "region", "departement"])
        & (published.tranche == "toutes")
        & (published.sexe == "tous")
        & (published.pcs == "toutes")
    ]
    annual = annual[[*_CELL, "statut", "valeur"]].merge(a_values, on=_CELL)
    departements = con.table("ref.departements").df()
    for folder in folders:
        b = pd.read_parquet(folder)
        b = b[(b.indicateur == "effectif_fin_trimestre") & (b.trimestre == trimestre)]
        if not len(b) or not len(b_values):
            continue
        b = b[[*_CELL, "statut", "valeur"]].merge(b_values, on=_CELL)
        audit_barometre_annual(b, annual, departements, trimestre, report)
