"""The semestrial baromètre of employment: quarterly headcounts, year-on-year change and net jobs.

Source: the Urssaf-style quarterly file (``staging.effectifs_trimestriels``), one row per establishment and
quarter, joined to the classified establishments (``ess.etablissements``). Its field is the **régime
général**: agriculture (MSA, sector ``AGR``) and Mayotte are outside it, so Mayotte's cells are
``non_disponible`` ("n.d."), never 0, and the France figures are France hors Mayotte.

For a quarter T and a cell (territory × champ × family or sector):

- ``effectif_fin_trimestre``: salaried headcount at the end of T, summed over the cell's establishments;
- ``glissement_annuel`` = 100 × (effectif(T) / effectif(T − 4) − 1), a percentage 0–100 with ``unite =
  'pourcent'`` as in the indicator table, published to 0.1 point (1.2 prints 1,2 %);
- ``solde_annuel`` = effectif(T) − effectif(T − 4): net jobs over a year.

Secrecy: every headcount cell carries FREQ (establishments employing someone at the end of the quarter),
VALUE and MAX (largest establishment). A cell of 1 or 2 establishments, or whose largest establishment
holds more than 85 % of it, is ``secret_primaire``; secondary suppression (:func:`protect_cells`) then hides
more cells so that none can be recomputed across territories, champs, families and sectors, and a blocking
audit proves it before anything is written; a change is secret whenever one of its two cells is. The cells and
the primary rule are one table macro (``sql/barometre/macro_cellules.sql``), which the annual protection also
evaluates for the year-end quarter (:func:`year_end_primaries`): the two products share their primaries.

A semester ``AAAA-S1`` ends with the second quarter, ``AAAA-S2`` with the fourth. The baromètre of a
semester publishes, by family, sector and territory, the four quarters that end with the semester (each
compared with the same quarter a year before), and for the totals of each champ the whole series from the
first quarter available. It is written atomically to
``output/<millesime>/barometre/<AAAA-Sn>/indicateurs.parquet`` and ``.csv``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb

from observatory import audit, secrecy
from observatory.barometre_spec import (
    COST_FILE,
    TABLE_NAME,
    BarometreError,
    last_quarter,
    quarter_index,
    quarter_key,
    quarters_for,
    semester_of,
)
from observatory.config import Settings
from observatory.files import atomic_path
from observatory.warehouse import run_sql

FREQ_MIN = 3
"""Frequency rule: a cell of 1 or 2 establishments is secret (an empty cell is not)."""
DOMINANCE = 0.85
"""Dominance rule: a cell is secret when its largest establishment holds strictly more than 85 % of it."""
INDICATEURS = ("effectif_fin_trimestre", "glissement_annuel", "solde_annuel")
log = logging.getLogger(__name__)
CROSS_PRODUCT_BLOCKING = True
"""Whether a cell disclosed across products (the year-end quarter against the annual table) stops the
publication. It does: the two products agree by construction (the annual protection takes the year-end
quarter's primary cells as primary, :func:`year_end_primaries`; the baromètre hides what the annual table
hides, :func:`protect_cells`), so a finding is a defect, and nothing is written."""

def available_quarters(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The quarters present in ``staging.effectifs_trimestriels``, oldest first."""
    rows = run_sql(con, "barometre/trimestres.sql").fetchall()
    return [r[0] for r in rows]


def latest_semester(con: duckdb.DuckDBPyConnection) -> str | None:
    """The latest semester whose last quarter is in the source (``None`` when there is no quarterly data)."""
    complete = [t for t in available_quarters(con) if quarter_index(t) % 2 == 1]
    return semester_of(complete[-1]) if complete else None


def barometre_dir(settings: Settings, semestre: str) -> Path:
    """``output/<millesime>/barometre/<AAAA-Sn>/``: where a semester's baromètre is published."""
    return settings.vintage_output / "barometre" / semestre


def _ensure_reference(con: duckdb.DuckDBPyConnection) -> None:
    """Territory names come from ``ref.regions``/``ref.departements``, units and publication precision from
    ``ref.indicateurs``; load them from the package data if absent."""
    from observatory.reference import departements, regions
    from observatory.reference.indicateurs import indicateurs

    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ref'"
        ).fetchall()
    }
    for name, frame in (
        ("regions", regions()),
        ("departements", departements()),
        ("indicateurs", indicateurs()),
    ):
        if name not in present:
            con.execute("CREATE SCHEMA IF NOT EXISTS ref")
            con.register("_cog", frame)
            con.execute(f"CREATE TABLE ref.{name} AS SELECT * FROM _cog")
            con.unregister("_cog")


def define_cells(con: duckdb.DuckDBPyConnection) -> None:
    """Define the table macro ``barometre_cellules(q_fin, q_detail, freq_min, dominance)`` on ``con``
    (``sql/barometre/macro_cellules.sql``): the one statement of the baromètre's cells and primary rule,
    from ``staging.effectifs_trimestriels`` and ``ess.etablissements``."""
    _ensure_reference(con)
    run_sql(con, "barometre/macro_cellules.sql")


def year_end_primaries(con: duckdb.DuckDBPyConnection, millesime: int):
    """The baromètre's primary cells of ``<millesime>-T4`` (key, ``freq``, ``value``, ``max``), computed at
    annual time from the staged quarterly file by the baromètre's own rule (:func:`define_cells`), or
    ``None`` when the warehouse holds no quarterly file or not that quarter.

    The quarter shows the annual table's headcounts at 31/12: the annual protection takes these cells as
    primary (:func:`observatory.secrecy.protect`, ``a_priori``), so that no cell is primary in one product
    and published in the other, and chooses its complements around them; the baromètre then hides every
    cell the annual table hides (:func:`protect_cells`). Taken whatever the two values (the sources differ
    by agriculture, Mayotte and timing): a baromètre primary published by the annual table with another
    value would still be recovered, up to the published difference (e.g. the agricultural sector's cell).
    """
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_schema = 'staging' AND table_name = 'effectifs_trimestriels'"
    ).fetchall()[0][0]
    if not present or f"{millesime}-T4" not in available_quarters(con):
        return None
    define_cells(con)
    q = quarter_index(f"{millesime}-T4")
    return run_sql(
        con, "barometre/primaires_fin_annee.sql", {"q": q, "freq_min": FREQ_MIN, "dominance": DOMINANCE}
    ).df()


def annual_headcounts(con: duckdb.DuckDBPyConnection, millesime: int):
    """The annual table's headcounts at 31/12 of ``millesime`` on the baromètre's cells
    (``sql/barometre/annuel.sql``: key, ``statut``, ``valeur``, ``valeur_calculee``), or ``None`` when the
    warehouse holds no annual indicator table of that vintage (the annual job has not run)."""
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ind' AND table_name = 'indicateurs'"
    ).fetchall()[0][0]
    if not present:
        return None
    frame = run_sql(con, "barometre/annuel.sql", {"millesime": millesime}).df()
    return frame if len(frame) else None


#: The baromètre's cell key (its cells have no size band, sex or PCS breakdown).
CELL_KEY = ["niveau", "code", "champ", "famille", "secteur"]


def joint_with_annual(quarter, annual) -> tuple:
    """The year-end quarter's cells against the annual table: ``(forced, known)`` flags, in ``quarter``'s row
    order.

    ``forced``: the annual table hides the cell (primary or secondary), so the baromètre must hide it too,
    or its published value would give the annual secret away. ``known``: the annual table publishes the
    cell with the baromètre's value, so the cell is public whatever the baromètre hides (a constant for its
    protection, never a complement). Cells outside the source's field (``non_disponible``) are neither.
    """
    import numpy as np

    a = annual[[*CELL_KEY, "statut", "valeur"]].rename(columns={"statut": "_a_statut", "valeur": "_a_valeur"})
    m = quarter[[*CELL_KEY, "statut", "value"]].merge(a, on=CELL_KEY, how="left", validate="one_to_one")
    inside = (m.statut != "non_disponible").to_numpy()
    forced = m._a_statut.isin(["secret_primaire", "secret_secondaire"]).to_numpy() & inside
    same = np.isclose(m._a_valeur.astype("float64").to_numpy(), m.value.astype("float64").to_numpy())
    known = (m._a_statut == "publie").to_numpy() & same & inside
    return forced, known


def protect_cells(con: duckdb.DuckDBPyConnection, millesime: int | None = None) -> dict:
    """Secondary suppression of ``ind.barometre_cellules``, quarter by quarter (in place; counts per statut).

    The headcounts of one quarter add up across région > département (and France), the champs (privé = ESS +
    privé hors ESS), the families (ESS) and the sectors: :func:`observatory.secrecy.protect_additive` hides
    more cells (``secret_secondaire``) until no hidden cell can be recomputed from the published ones. Cells
    outside the source's field (Mayotte, ``non_disponible``) count 0 and are never used as complements. The
    changes (glissement, solde) then inherit the secret of either quarter (``sql/barometre/indicateurs.sql``).

    The quarter ``<millesime>-T4`` shows the headcounts at 31/12 of the annual table: when the warehouse
    holds that table (``ind.indicateurs``, written by the annual job before the baromètre's), it is protected
    jointly with it (:func:`joint_with_annual`): every cell the annual table hides is hidden here too
    (``secret_secondaire`` unless the baromètre's own rules make it primary) and the closure protects around
    it; a cell the annual table publishes with the same value is a constant of the equations, never a
    complement, and stays published.
    """
    import numpy as np

    cells = con.table("ind.barometre_cellules").df()
    region_of = dict(con.execute("SELECT code_departement, code_region FROM ref.departements").fetchall())
    annual = annual_headcounts(con, millesime) if millesime is not None else None
    q_annual = quarter_index(f"{millesime}-T4") if annual is not None else None
    statut = cells.statut.to_numpy().copy()
    frame = cells.assign(**{k: secrecy.DEFAULTS[k] for k in ("tranche", "sexe", "pcs")})
    joint = {"cellules_masquees_par_la_table_annuelle": 0, "cellules_publiees_par_la_table_annuelle": 0}
    for q, idx in frame.groupby("q", sort=True).indices.items():
        sub = frame.iloc[idx]
        hidden = (sub.statut == "secret_primaire").to_numpy()
        known = None
        if q == q_annual:
            forced, known = joint_with_annual(sub.reset_index(drop=True), annual)
            hidden = hidden | forced
            joint["cellules_masquees_par_la_table_annuelle"] = int(forced.sum())
            joint["cellules_publiees_par_la_table_annuelle"] = int(known.sum())
        hidden = secrecy.protect_additive(
            sub,
            hidden,
            sub.value.astype("float64").to_numpy(),
            (sub.statut == "non_disponible").to_numpy(),
            region_of,
            known=known,
            levels=secrecy.protection_levels(
                sub.value.astype("float64").to_numpy(),
                sub["max"].astype("float64").to_numpy(),
                (sub.statut == "secret_primaire").to_numpy(),
            ),
        )
        new = hidden & (sub.statut == "publie").to_numpy()
        statut[idx[new]] = "secret_secondaire"
    cells["statut"] = statut
    con.register("_cellules", cells)
    con.execute(
        "CREATE OR REPLACE TABLE ind.barometre_cellules AS SELECT * FROM _cellules"
        " ORDER BY q, niveau, code, champ, famille, secteur"
    )
    con.unregister("_cellules")
    return {**{k: int(v) for k, v in zip(*np.unique(statut, return_counts=True))}, **joint}


def audit_across_products(con: duckdb.DuckDBPyConnection, millesime: int, report) -> dict | None:
    """The cross-product audit of the quarter ``<millesime>-T4`` against the annual table, into ``report``
    (:func:`observatory.audit.audit_barometre_annual`), when the baromètre has that quarter and the warehouse
    the annual table. Returns the cells compared and the findings (``None`` when there was nothing to compare).
    """
    annual = annual_headcounts(con, millesime)
    if annual is None:
        return None
    trimestre = f"{millesime}-T4"
    year_end = run_sql(con, "barometre/fin_annee.sql", {"trimestre": trimestre}).df()
    if not len(year_end):
        return None
    report.cross_product_blocking = CROSS_PRODUCT_BLOCKING
    audit.audit_barometre_annual(year_end, annual, con.table("ref.departements").df(), trimestre, report)
    return {"cellules": report.cross_product_checked, "divulgations": len(report.cross_product_findings)}


def build_barometre(con: duckdb.DuckDBPyConnection, settings: Settings, semestre: str) -> dict:
    """Build and publish the baromètre of ``semestre`` (``AAAA-S1`` or ``AAAA-S2``).

    Writes ``ind.barometre_cellules`` (cells with FREQ/VALUE/MAX and status) and ``ind.barometre`` (the
    published shape) in the warehouse, then ``indicateurs.parquet`` and ``.csv`` under
    :func:`barometre_dir`, each atomically. Raises :class:`BarometreError` when the source lacks a quarter
    the semester needs. Returns the semester, its quarters, the paths written and row counts per status.
    """
    q_fin = quarter_index(last_quarter(semestre))
    trimestres = quarters_for(semestre)
    present = available_quarters(con)
    if quarter_key(q_fin) not in present:
        have = f"{present[0]} … {present[-1]}" if present else "none"
        raise BarometreError(
            f"baromètre {semestre}: quarter {quarter_key(q_fin)} is not in the quarterly headcounts "
            f"(staging.effectifs_trimestriels has {have})"
        )
    define_cells(con)
    params = {
        "q_fin": q_fin,
        "q_detail": quarter_index(trimestres[0]),
        "freq_min": FREQ_MIN,
        "dominance": DOMINANCE,
        "millesime": settings.millesime,
        "perimetre_version": settings.perimetre,
    }
    run_sql(con, "barometre/cellules.sql", params)
    joint = protect_cells(con, settings.millesime)
    run_sql(con, "barometre/indicateurs.sql", params)
    # blocking: a table whose hidden cells can be recomputed never reaches output/
    report = audit.audit_barometre(
        con.table("ind.barometre").df(), con.table("ref.departements").df(), audit.quarter_cells_of(con)
    )
    cross = audit_across_products(con, settings.millesime, report)
    if not report.passed:
        if report.violations or report.recoverable or report.interval_narrow:
            raise BarometreError(f"baromètre {semestre}: {report.summary()}")
        log.error("baromètre %s: %s", semestre, report.summary())
        findings = report.cross_product_findings
        raise BarometreError(
            f"baromètre {semestre}: secrecy across products failed, {len(findings)} cell(s) of "
            f"{settings.millesime}-T4 disclosed against the annual table {settings.millesime} "
            f"(nothing written; `observatory audit` lists them), first: {findings[0]}"
        )
    log.info("baromètre %s: %s", semestre, report.summary())

    out = barometre_dir(settings, semestre)
    parquet, csv = out / f"{TABLE_NAME}.parquet", out / f"{TABLE_NAME}.csv"
    for dest, options in ((parquet, "FORMAT parquet, COMPRESSION zstd"), (csv, "FORMAT csv, HEADER true")):
        with atomic_path(dest) as tmp:
            con.execute(f"COPY ind.barometre TO '{tmp.as_posix()}' ({options})")
    by_status = dict(con.execute("SELECT statut, count(*) FROM ind.barometre GROUP BY statut").fetchall())
    rows = sum(by_status.values())
    cost = secrecy_cost(con, q_fin)
    with atomic_path(out / COST_FILE) as tmp:  # read by the publications' methodology line
        tmp.write_text(json.dumps(cost, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {
        "semestre": semestre,
        "trimestres": trimestres,
        "premier_trimestre": present[0],
        "path": parquet,
        "csv": csv,
        "rows": rows,
        "statut": by_status,
        "protection_conjointe": joint,
        "audit_croise": cross,
        "cout_du_secret": cost,
    }



def secrecy_cost(con: duckdb.DuckDBPyConnection, q_fin: int) -> dict:
    """What secrecy cost in this semester's baromètre, per level (``sql/barometre/cout_secret.sql``): figures by
    statut and the share of the last quarter's jobs in hidden headcount cells (whole percent), in the shape of
    the annual table's (:func:`observatory.publication.secrecy_cost`)."""
    run_sql(con, "indicators/macro_cout_secret.sql")
    rel = run_sql(con, "barometre/cout_secret.sql", {"q_fin": q_fin})
    cols = [d[0] for d in rel.description]
    return {r[0]: dict(zip(cols[1:], r[1:], strict=True)) for r in rel.fetchall()}


def read_barometre(barometre_dir: Path):
    """The published baromètre table of one semester folder, as a pandas DataFrame (codes as text)."""
    import pandas as pd

    return pd.read_parquet(Path(barometre_dir) / f"{TABLE_NAME}.parquet")
